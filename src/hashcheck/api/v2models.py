"""The v2 API's bodies, declared once: msgspec decodes requests into them, encodes answers from
them, and /v2/openapi.json's schemas are generated from them.

Owns shapes only. What a hash must look like (hex of its algorithm's length) is checked by
`api.v2`'s hex path, which the ``pattern`` in the schemas describes but msgspec does not run:
a regular expression per hash costs three times what the whole decoding does.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

from hashcheck.api.vpdq import MAX_FRAMES_PER_VIDEO

Algorithm = Literal["md5", "sha1", "sha256", "pdq", "vpdq"]
Hex = Annotated[str, Meta(extra_json_schema={"pattern": r"^\s*[0-9a-fA-F]+\s*$"})]
Hexes = list[Hex] | UnsetType


def one_of(*values: str) -> object:
    """A text field of an answer that takes one of ``values``: a plain ``str`` to the code that
    fills it in (no cast at every site), an enum in the schema."""
    return Meta(extra_json_schema={"enum": list(values)})


MAX_REASON = 2000
AnsweredAlgorithm = Annotated[str, one_of("md5", "sha1", "sha256", "pdq", "vpdq")]


class HashItem(Struct, kw_only=True):
    """One hash to check, or a video (vpdq) given as its frames."""

    algorithm: Algorithm
    hash: (
        Annotated[Hex, Meta(description="every algorithm but vpdq: hex of its length (pdq: 64)")]
        | UnsetType
    ) = UNSET
    frames: (
        Annotated[
            list[str],
            Meta(
                min_length=1,
                max_length=MAX_FRAMES_PER_VIDEO,
                description='vpdq only: "hex,quality,timestamp" per frame (each counts against the '
                "batch limit)",
            ),
        ]
        | UnsetType
    ) = UNSET
    quality: (
        Annotated[int, Meta(ge=0, le=100, description="pdq only: below 50 it is not matched")]
        | UnsetType
    ) = UNSET


class CheckRequest(Struct, kw_only=True):
    """Either ``hashes`` (one object per hash) or lists under md5, sha1, sha256, pdq (taken in
    that order), not both."""

    hashes: list[HashItem] | UnsetType = UNSET
    md5: Hexes = UNSET
    sha1: Hexes = UNSET
    sha256: Hexes = UNSET
    pdq: Hexes = UNSET
    only_matches: Annotated[bool, Meta(description="answer only the hashes that matched")] = False


class Match(Struct, kw_only=True):
    """One list entry a hash matched, as this client may see it."""

    list_name: str = field(name="list")
    category: str
    severity: Annotated[str, one_of("severe", "sensitive", "informational")]
    action: Annotated[str, one_of("remove", "review")]
    kind: Annotated[str, one_of("exact", "pdq", "vpdq")]
    item: Annotated[int, Meta(description="the list item (one file's hashes) that matched")]
    match_id: str
    distance: (
        Annotated[int, Meta(description="pdq only: Hamming distance to the list entry")] | UnsetType
    ) = UNSET
    target_percent: (
        Annotated[float, Meta(description="vpdq only: share of the stored video's frames matched")]
        | UnsetType
    ) = UNSET
    query_percent: (
        Annotated[float, Meta(description="vpdq only: share of the query's frames matched")]
        | UnsetType
    ) = UNSET
    hold: (
        Annotated[str, Meta(description="while the entry is on hold: why (action is then review)")]
        | UnsetType
    ) = UNSET


class Result(Struct, kw_only=True):
    """The answer for one submitted hash or video."""

    index: Annotated[int, Meta(description="position in the request (only_matches)")] | (
        UnsetType
    ) = UNSET
    algorithm: AnsweredAlgorithm
    hash: Annotated[str, Meta(description="every kind but vpdq")] | UnsetType = UNSET
    frames: Annotated[int, Meta(description="vpdq: frames given")] | UnsetType = UNSET
    usable_frames: (
        Annotated[int, Meta(description="vpdq: distinct frames of quality 50 or more")] | UnsetType
    ) = UNSET
    match: bool
    flag: (
        Annotated[str, Meta(description="why a hash or video was not checked (low quality)")]
        | UnsetType
    ) = UNSET
    matches: tuple[Match, ...]


class CheckResponse(Struct, kw_only=True):
    version: Annotated[int, Meta(description="the index version that answered")]
    checked: int
    results: list[Result]


class DisputeRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    match_id: Annotated[str, Meta(min_length=1, description="from a /v2/check answer")]
    reason: Annotated[
        str, Meta(pattern=r"\S", max_length=MAX_REASON, description="why the match is wrong")
    ]


ClientActionName = Annotated[
    str,
    one_of("removed", "blocked_at_upload", "quarantined", "kept_after_review", "reported"),
]


class ActionRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """What the client did about a match: name it by its match id (or, for the client's
    latest match of an item, by the item)."""

    match_id: Annotated[str, Meta(min_length=1, description="from a /v2/check answer")] | (
        UnsetType
    ) = UNSET
    item: (
        Annotated[int, Meta(ge=1, le=2**63 - 1, description="instead of match_id")] | UnsetType
    ) = UNSET
    notice: (
        Annotated[int, Meta(ge=1, le=2**63 - 1, description="instead of match_id: a notice's id")]
        | UnsetType
    ) = UNSET
    action: ClientActionName
    reason: Annotated[
        str,
        Meta(max_length=MAX_REASON, description="why; required for kept_after_review"),
    ] = ""
    at: (
        Annotated[
            str, Meta(description="when it was done: ISO 8601 with a time zone; now if left out")
        ]
        | UnsetType
    ) = UNSET


class Notice(Struct, kw_only=True):
    """The operator's notice about an item: act on it (and say so) by ``deadline``."""

    notice_id: int
    item: Annotated[int, Meta(description="the list item, as in a check answer's matches")]
    url: Annotated[str | None, Meta(description="where the operator found it, if it knows")]
    issued_at: Annotated[str, Meta(description="the clock runs from here (UTC)")]
    deadline: Annotated[str, Meta(description="act by then (UTC)")]
    state: Annotated[str, one_of("open", "acknowledged", "removed", "withdrawn")]
    acknowledged_at: str | None
    closed_at: str | None


class Notices(Struct, kw_only=True):
    notices: list[Notice]


class ActionAnswer(Struct, kw_only=True):
    action_id: int
    match_id: str
    item: int
    action: ClientActionName
    reason: str
    at: Annotated[str, Meta(description="when the client did it (UTC)")]
    recorded_at: Annotated[str, Meta(description="when the service kept it (UTC)")]
    matched_at: (
        Annotated[str, Meta(description="the day's first match, once the node recorded it")] | None
    )
    notice: Annotated[int | None, Meta(description="the notice this action answers, if any")]
    repeated: Annotated[bool, Meta(description="this action on this match was kept already")]


class Note(Struct, kw_only=True):
    at: str
    text: str


class Dispute(Struct, kw_only=True):
    dispute_id: int
    match_id: str
    list_name: str | None = field(name="list")
    reason: str
    state: Annotated[str, one_of("open", "upheld", "rejected")]
    opened_at: str
    decided_at: str | None
    notes: Annotated[list[Note], Meta(description="the operator's decision and comments")]


class Retraction(Struct, kw_only=True):
    cursor: int
    match_id: str
    item: Annotated[int, Meta(description="the item retracted: every hash of it, every day")]
    list_name: str | None = field(name="list")
    reason: Annotated[
        str, one_of("removed", "rolled-back", "dispute-upheld", "withdrawn", "rejected")
    ]
    retracted_at: str


class Retractions(Struct, kw_only=True):
    retractions: list[Retraction]
    next: Annotated[int, Meta(description="the cursor for `since`")]
    more: Annotated[bool, Meta(description="another page is waiting")]


class Alive(Struct, kw_only=True):
    status: Annotated[str, one_of("alive")]


class Ready(Struct, kw_only=True):
    status: Annotated[str, one_of("ready", "degraded", "starting")]
    index_version: int | UnsetType = UNSET
    entries: int | UnsetType = UNSET
    snapshot_age_seconds: float | UnsetType = UNSET
    store_error: Annotated[
        str | None, Meta(description="set while the store cannot be reached (details in the log)")
    ]
    stats_flush_failures: Annotated[
        int,
        Meta(
            description="usage counts and match records this node could not write, in a row: "
            "kept in memory and tried again at every flush; above 0 the node is degraded"
        ),
    ] = 0


# -- self-submission (no authentication on POST; case number and PIN as Basic otherwise) ----
MAX_SUBMITTED_FILES = 100


class SubmittedHashes(Struct, kw_only=True, forbid_unknown_fields=True):
    """The hashes of one file, computed on the submitter's device: never a file name, size or
    anything else about it."""

    md5: Annotated[Hex, Meta(description="MD5 of the file's bytes")]
    sha1: Annotated[Hex, Meta(description="SHA-1 of the file's bytes")]
    sha256: Annotated[Hex, Meta(description="SHA-256 of the file's bytes")]
    pdq: Annotated[Hex, Meta(description="images: PDQ hash, 64 hex")] | UnsetType = UNSET
    pdq_quality: (
        Annotated[int, Meta(ge=0, le=100, description="with pdq: its quality, at least 50")]
        | UnsetType
    ) = UNSET
    frames: (
        Annotated[
            list[str],
            Meta(
                min_length=1,
                max_length=MAX_FRAMES_PER_VIDEO,
                description='videos: "hex,quality,seconds" per frame, one a second',
            ),
        ]
        | UnsetType
    ) = UNSET


class SubmissionProof(Struct, kw_only=True, forbid_unknown_fields=True):
    """The answer to a challenge of `GET /v2/submission-challenge`."""

    challenge: Annotated[str, Meta(pattern=r"^[0-9a-f]{80}$", description="as it was given")]
    counter: Annotated[
        int,
        Meta(
            ge=0,
            le=2**53 - 1,  # what a browser counts exactly
            description="SHA-256 of the challenge's 40 bytes, the SHA-256 of the nonce and "
            "this as 8 bytes, big-endian, starts with the challenge's `bits` zero bits",
        ),
    ]


class SubmissionChallenge(Struct, kw_only=True):
    """What a submission must answer when `bits` is above 0 (else nothing is needed)."""

    challenge: Annotated[str, Meta(description="80 hex digits")]
    bits: Annotated[int, Meta(description="leading zero bits the answer's hash must have")]
    expires_in: Annotated[int, Meta(description="seconds the challenge may be answered in")]


class SubmissionRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    nonce: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9_-]{16,64}$",
            description="a random id the page makes for this submission; sent again, it is "
            "refused as a replay (409)",
        ),
    ]
    files: Annotated[list[SubmittedHashes], Meta(min_length=1, max_length=MAX_SUBMITTED_FILES)]
    proof: SubmissionProof | UnsetType = UNSET  # needed when the node asks for proof of work


class SubmissionReceived(Struct, kw_only=True):
    """Shown once: the PIN is not kept in a form that can be shown again."""

    case: Annotated[str, Meta(description="the case number, e.g. 7KQM4-XRD2P")]
    pin: Annotated[str, Meta(description="the PIN, shown only now")]
    state: Annotated[str, one_of("received")]
    files: int


class SubmittedFileState(Struct, kw_only=True):
    file: Annotated[int, Meta(description="position of the file in the submission, from 0")]
    state: Annotated[str, one_of("received", "active", "rejected", "withdrawn")]
    note: str | UnsetType = UNSET


class SubmissionState(Struct, kw_only=True):
    case: str
    state: Annotated[str, one_of("received", "active", "rejected", "withdrawn")]
    received: Annotated[str, Meta(description="the hour it arrived (UTC)")]
    files: list[SubmittedFileState]
    platforms_matched: (
        Annotated[
            int,
            Meta(
                description="only where the operator allows it: how many participating "
                "platforms were answered a match on this case's hashes (never which)"
            ),
        ]
        | UnsetType
    ) = UNSET
    platforms_acted: (
        Annotated[
            int,
            Meta(
                description="only where the operator allows it: how many participating "
                "platforms reported taking a file of this case down (removed, blocked at "
                "upload or quarantined; never which)"
            ),
        ]
        | UnsetType
    ) = UNSET


class Platform(Struct, kw_only=True):
    name: str


class Platforms(Struct, kw_only=True):
    platforms: list[Platform]


class ActedWithin(Struct, kw_only=True):
    """Shares of the hits (0 to 1; null without hits) acted on within each window."""

    h1: float | None = field(name="1h")
    h12: float | None = field(name="12h")
    h24: float | None = field(name="24h")
    deadline: float | None


class NoticeCounts(Struct, kw_only=True):
    issued: int
    removed_in_time: int
    removed_late: int
    withdrawn: int
    open: int
    overdue: int


class TakedownFigures(Struct, kw_only=True):
    hits: Annotated[int, Meta(description="first matches of an item answered remove")]
    acted_on: int
    acted_within: ActedWithin
    median_hours_to_action: float | None
    p90_hours_to_action: float | None
    overdue: Annotated[int, Meta(description="not acted on within the deadline")]
    unanswered: Annotated[int, Meta(description="no action reported at all")]
    reappeared: Annotated[
        int, Meta(description="matched again after removal, or after the deadline")
    ]
    timed_from_notice: int
    notices: NoticeCounts


class ClientTakedownFigures(TakedownFigures, kw_only=True):
    client: str
    name: str | UnsetType = UNSET
    deadline_hours: int


class TakedownReport(Struct, kw_only=True):
    month: str
    clock: Annotated[str, Meta(description="where each hit's clock starts")]
    deadline_hours: Annotated[int, Meta(description="the policy's takedown-deadline-hours")]
    publishable: bool
    overall: TakedownFigures
    clients: list[ClientTakedownFigures]
