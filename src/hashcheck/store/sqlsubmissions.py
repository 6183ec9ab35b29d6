"""Self-submitted cases: their storage as items of the `self-submitted` list, and the state
of each item following from the cases that hold it.

A case is a number, a slow hash of its PIN and the items its files became; nothing else about
the person (no address, no file name) is ever written. Two cases that submit the same hash hold
the same item. An item answers `review` (held category) while no case holding it is active,
`remove` (active category) once one is, and leaves the list (tombstones, retractions) when no
case holds it any more. Holds no HTTP, no PIN checking and no keying.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hashcheck.catalog.takedown import TAKEN_DOWN
from hashcheck.store.errors import AlreadyExists, Conflict, NotFound, StoreError, Unavailable
from hashcheck.store.records import (
    NewSubmission,
    SubmissionFileRecord,
    SubmissionRecord,
)
from hashcheck.store.schema import ACTIVE_CATEGORY, HELD_CATEGORY, SELF_SUBMITTED_LIST
from hashcheck.store.sqlbase import IN_CHUNK, Cursor, now_iso
from hashcheck.store.sqltakedown import TakedownQueries

# The actor that audit records of the submitters' own actions name: never anything about them.
SUBMITTER = "submitter"
LIVE = ("received", "active")
_STATES = ("received", "active", "rejected", "withdrawn")


class SubmissionQueries(TakedownQueries):
    def add_submission(self, submission: NewSubmission) -> SubmissionRecord:
        (refused,) = self.add_submissions([submission])
        if refused is not None:
            raise refused
        return self.submission(submission.case_number)

    def add_submissions(self, submissions: Sequence[NewSubmission]) -> list[StoreError | None]:
        """Several cases in one transaction (a group commit: a case is a few rows, while a
        commit writes each page it touched to the log), each whole or not at all: a case
        that is refused or fails is rolled back to its own savepoint and the others kept."""
        outcomes: list[StoreError | None] = []
        with self._tx(write=True) as cur:
            for submission in submissions:
                self._q(cur, "SAVEPOINT one_case")
                try:
                    self._add_case(cur, submission)
                except Exception as exc:  # every failure is this case's outcome, kept
                    # A failure that leaves no savepoint to return to fails the transaction.
                    self._q(cur, "ROLLBACK TO one_case")
                    outcomes.append(exc if isinstance(exc, StoreError) else _failed(exc))
                else:
                    outcomes.append(None)
                self._q(cur, "RELEASE one_case")
        return outcomes

    def _add_case(self, cur: Cursor, submission: NewSubmission) -> None:
        if self._q(
            cur, "SELECT 1 FROM submissions WHERE nonce = ?", (submission.nonce,)
        ).fetchone():
            raise Conflict("this submission was received already")
        if self._q(
            cur, "SELECT 1 FROM submissions WHERE case_number = ?", (submission.case_number,)
        ).fetchone():
            raise AlreadyExists("case number in use")
        list_id, held, _ = self._submission_setup(cur)
        self._q(
            cur,
            "INSERT INTO submissions (case_number, pin_hash, nonce, state, received_at) "
            "VALUES (?, ?, ?, 'received', ?)",
            (
                submission.case_number,
                submission.pin_hash,
                submission.nonce,
                submission.received_at,
            ),
        )
        case_id = self._case_id(cur, submission.case_number)
        batch_id = self._new_batch(
            cur, list_id, "submission", f"case {submission.case_number}", SUBMITTER
        )
        added, shared = self._store_files(cur, list_id, held, batch_id, case_id, submission)
        self._finish_batch(cur, batch_id, added, shared, [held])
        self._audit(
            cur,
            SUBMITTER,
            "submission.add",
            submission.case_number,
            {
                "files": len(submission.files),
                "hashes_added": added,
                "hashes_known": shared,
                "known_good_files": sum(
                    f.finding.startswith("known-good") for f in submission.files
                ),
            },
        )

    def _store_files(
        self,
        cur: Cursor,
        list_id: int,
        held: int,
        batch_id: int,
        case_id: int,
        submission: NewSubmission,
    ) -> tuple[int, int]:
        """Each file's hashes as a new held item, or as the item that already holds them.
        Returns (hashes added, hashes already on the list)."""
        added = shared = 0
        next_item = self._next_item_id(cur)
        links: list[tuple[int, int, int | None, str, str]] = []
        for file in submission.files:
            if file.finding.startswith("known-good"):
                # An ordinary file: kept as a line of the case, nothing of it stored.
                every = ",".join(h[0] for h in file.hashes)
                links.append((case_id, file.file_no, None, every, file.finding))
                continue
            existing = self._items_of(cur, list_id, [h[1] for h in file.hashes])
            per_item: dict[int, list[str]] = {}
            new = [h for h in file.hashes if h[1] not in existing]
            for name, digest, _ in file.hashes:
                if digest in existing:
                    per_item.setdefault(existing[digest], []).append(name)
            shared += len(file.hashes) - len(new)
            if new:
                # Hashes not yet known become an item of their own, held: joining them to an
                # item another case activated would make them answer `remove` unreviewed.
                item = next_item
                next_item += 1
                self._q(
                    cur,
                    "INSERT INTO items (id, list_id, ref, category_id, value, state, "
                    "merged_into, first_batch, last_batch) "
                    "VALUES (?, ?, NULL, ?, NULL, 'active', NULL, ?, ?)",
                    (item, list_id, held, batch_id, batch_id),
                )
                for _, digest, sealed in new:
                    self._q(
                        cur,
                        "INSERT INTO entries (list_id, digest, category_id, batch_id, item_id) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (list_id, digest, held, batch_id, item),
                    )
                    if sealed is not None:
                        self._q(
                            cur,
                            "INSERT INTO pdq_sealed (entry_id, sealed) SELECT id, ? FROM "
                            "entries WHERE list_id = ? AND digest = ?",
                            (sealed, list_id, digest),
                        )
                per_item[item] = [h[0] for h in new]
                added += len(new)
            for item, names in per_item.items():
                links.append((case_id, file.file_no, item, ",".join(names), file.finding))
        cur.executemany(
            self._sql(
                "INSERT INTO submission_items (case_id, file_no, item_id, algorithms, finding) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            links,
        )
        self._sized(cur, list_id, added)
        return added, shared

    def _items_of(self, cur: Cursor, list_id: int, digests: Sequence[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for start in range(0, len(digests), IN_CHUNK):
            chunk = list(digests[start : start + IN_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            for digest, item in self._q(
                cur,
                f"SELECT digest, item_id FROM entries WHERE list_id = ? AND digest IN ({marks})",
                [list_id, *chunk],
            ).fetchall():
                found[bytes(digest)] = int(item)
        return found

    def _submission_setup(self, cur: Cursor) -> tuple[int, int, int]:
        """(list, held category, active category), created with the first case."""
        held = self._category_id(
            cur, HELD_CATEGORY, "sensitive", "Self-submitted, waiting for the operator's review"
        )
        active = self._category_id(
            cur, ACTIVE_CATEGORY, "severe", "Self-submitted and activated by the operator"
        )
        row = self._q(cur, "SELECT id FROM lists WHERE name = ?", (SELF_SUBMITTED_LIST,)).fetchone()
        if row is None:
            self._q(
                cur,
                "INSERT INTO lists (name, supplier, description, created_at, explicit_grant) "
                "VALUES (?, 'self-submission', ?, ?, 1)",
                (
                    SELF_SUBMITTED_LIST,
                    "Hashes people submitted of images of themselves; granted by name only",
                    now_iso(),
                ),
            )
            self._audit(
                cur,
                "system:submissions",
                "list.add",
                SELF_SUBMITTED_LIST,
                {"before": None, "after": {"supplier": "self-submission", "explicit_grant": True}},
            )
            row = self._q(
                cur, "SELECT id FROM lists WHERE name = ?", (SELF_SUBMITTED_LIST,)
            ).fetchone()
        return int(row[0]), held, active

    def _category_id(self, cur: Cursor, name: str, severity: str, description: str) -> int:
        row = self._q(cur, "SELECT id FROM categories WHERE name = ?", (name,)).fetchone()
        if row is None:
            self._q(
                cur,
                "INSERT INTO categories (name, severity, description) VALUES (?, ?, ?)",
                (name, severity, description),
            )
            self._audit(
                cur,
                "system:submissions",
                "category.add",
                name,
                {"before": None, "after": {"severity": severity}},
            )
            row = self._q(cur, "SELECT id FROM categories WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def _case_id(self, cur: Cursor, case_number: str) -> int:
        row = self._q(
            cur, "SELECT id FROM submissions WHERE case_number = ?", (case_number,)
        ).fetchone()
        if row is None:
            raise NotFound("no such case")
        return int(row[0])

    # -- reading ---------------------------------------------------------------------------
    def submission(self, case_number: str) -> SubmissionRecord:
        with self._tx(write=False) as cur:
            return self._submission(cur, case_number)

    def submissions(self, state: str | None = None, limit: int = 100) -> list[SubmissionRecord]:
        """Cases oldest first (the review queue's order), of one state or all."""
        where, params = ("WHERE state = ? ", [state]) if state else ("", [])
        with self._tx(write=False) as cur:
            numbers = [
                str(r[0])
                for r in self._q(
                    cur,
                    f"SELECT case_number FROM submissions {where}ORDER BY id LIMIT ?",
                    [*params, limit],
                ).fetchall()
            ]
            return [self._submission(cur, n) for n in numbers]

    def _submission(self, cur: Cursor, case_number: str) -> SubmissionRecord:
        row = self._q(
            cur,
            "SELECT id, case_number, pin_hash, state, received_at, decided_by, decided_at, "
            "reason FROM submissions WHERE case_number = ?",
            (case_number,),
        ).fetchone()
        if row is None:
            raise NotFound("no such case")
        case_id = int(row[0])
        files = self._q(
            cur,
            "SELECT f.file_no, f.item_id, f.algorithms, f.finding, f.left_out, i.state, "
            "c.name, (SELECT COUNT(DISTINCT o.case_id) FROM submission_items o "
            "JOIN submissions s ON s.id = o.case_id WHERE o.item_id = f.item_id "
            "AND o.case_id <> f.case_id AND s.state IN ('received', 'active')), "
            "(SELECT COUNT(DISTINCT m.client_id) FROM sightings m "
            "WHERE m.entry_id = f.item_id AND m.answered = 1) "
            "FROM submission_items f LEFT JOIN items i ON i.id = f.item_id "
            "LEFT JOIN categories c ON c.id = i.category_id "
            "WHERE f.case_id = ? ORDER BY f.file_no, f.item_id",
            (case_id,),
        ).fetchall()
        matched = self._q(
            cur,
            "SELECT COUNT(DISTINCT m.client_id) FROM sightings m WHERE m.answered = 1 AND "
            "m.entry_id IN (SELECT item_id FROM submission_items WHERE case_id = ? "
            "AND item_id IS NOT NULL)",
            (case_id,),
        ).fetchone()[0]
        taken_down = sorted(action.value for action in TAKEN_DOWN)
        acted = self._q(
            cur,
            "SELECT COUNT(DISTINCT a.client_id) FROM actions a WHERE a.action IN "
            f"({', '.join('?' for _ in taken_down)}) AND a.item_id IN (SELECT item_id FROM "
            "submission_items WHERE case_id = ? AND item_id IS NOT NULL)",
            (*taken_down, case_id),
        ).fetchone()[0]
        return SubmissionRecord(
            str(row[1]),
            str(row[2]),
            str(row[3]),
            str(row[4]),
            row[5],
            row[6],
            str(row[7]),
            tuple(
                SubmissionFileRecord(
                    int(f[0]),
                    None if f[1] is None else int(f[1]),
                    str(f[2]),
                    str(f[3]),
                    bool(f[4]),
                    _item_state(f[1], f[5], f[6]),
                    int(f[7] or 0),
                    int(f[8] or 0),
                )
                for f in files
            ),
            int(matched or 0),
            int(acted or 0),
        )

    # -- decisions -------------------------------------------------------------------------
    def decide_submission(
        self,
        case_number: str,
        *,
        activate: bool,
        reason: str,
        actor: str,
        leave_out: Iterable[int] = (),
    ) -> SubmissionRecord:
        """The operator's review: activate the case (all its items answer `remove`, but for
        the items ``leave_out`` names, which the case no longer holds) or reject it. Only a
        received case can be activated; a received or active one rejected."""
        left = sorted(set(leave_out))
        with self._tx(write=True) as cur:
            case_id, state = self._case_state(cur, case_number)
            allowed = ("received",) if activate else LIVE
            if state not in allowed:
                raise Conflict(f"case {case_number} is {state}")
            items = self._case_items(cur, case_id)
            unknown = [i for i in left if i not in items]
            if unknown:
                raise NotFound(f"item {unknown[0]} is not part of case {case_number}")
            if activate and left:
                marks = ", ".join("?" for _ in left)
                self._q(
                    cur,
                    "UPDATE submission_items SET left_out = 1 "
                    f"WHERE case_id = ? AND item_id IN ({marks})",
                    [case_id, *left],
                )
            after = "active" if activate else "rejected"
            self._q(
                cur,
                "UPDATE submissions SET state = ?, decided_by = ?, decided_at = ?, reason = ? "
                "WHERE id = ?",
                (after, actor, now_iso(), reason, case_id),
            )
            self._settle(cur, items, actor, "rejected")
            self._audit(
                cur,
                actor,
                "submission.activate" if activate else "submission.reject",
                case_number,
                {
                    "before": {"state": state},
                    "after": {"state": after},
                    "reason": reason,
                    "left_out": left,
                },
            )
            return self._submission(cur, case_number)

    def withdraw_submission(self, case_number: str) -> SubmissionRecord:
        """The submitter's withdrawal: the case's items leave the list unless another case
        still holds them. Withdrawing twice changes nothing."""
        with self._tx(write=True) as cur:
            case_id, state = self._case_state(cur, case_number)
            if state in LIVE:
                self._q(
                    cur,
                    "UPDATE submissions SET state = 'withdrawn', decided_at = ? WHERE id = ?",
                    (now_iso(), case_id),
                )
                self._settle(cur, self._case_items(cur, case_id), SUBMITTER, "withdrawn")
                self._audit(
                    cur,
                    SUBMITTER,
                    "submission.withdraw",
                    case_number,
                    {"before": {"state": state}, "after": {"state": "withdrawn"}},
                )
            return self._submission(cur, case_number)

    def _case_state(self, cur: Cursor, case_number: str) -> tuple[int, str]:
        row = self._q(
            cur, "SELECT id, state FROM submissions WHERE case_number = ?", (case_number,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no case {case_number}")
        return int(row[0]), str(row[1])

    def _case_items(self, cur: Cursor, case_id: int) -> set[int]:
        return {
            int(r[0])
            for r in self._q(
                cur,
                "SELECT item_id FROM submission_items WHERE case_id = ? AND item_id IS NOT NULL",
                (case_id,),
            ).fetchall()
        }

    def _settle(self, cur: Cursor, items: Iterable[int], actor: str, why: str) -> None:
        """Give each item the state its cases call for: active if an active case holds it,
        held if only received ones do, off the list if none does."""
        list_id, held, active = self._submission_setup(cur)
        rewrite: list[tuple[int, int, int]] = []
        before: dict[int, int] = {}  # the category of each item rewritten, for its history
        doomed: list[int] = []
        for item in sorted(items):
            row = self._q(cur, "SELECT state, category_id FROM items WHERE id = ?", (item,))
            found = row.fetchone()
            if found is None or found[0] != "active":
                continue  # removed already (a supplier deletion, a dispute upheld)
            states = {
                str(r[0])
                for r in self._q(
                    cur,
                    "SELECT s.state FROM submission_items f JOIN submissions s "
                    "ON s.id = f.case_id WHERE f.item_id = ? AND f.left_out = 0",
                    (item,),
                ).fetchall()
            }
            if "active" in states:
                wanted: int | None = active
            elif "received" in states:
                wanted = held
            else:
                wanted = None
            if wanted is None:
                doomed.append(item)
            elif int(found[1]) != wanted:
                rewrite.append((item, item, wanted))
                before[item] = int(found[1])
        if not (rewrite or doomed):
            return
        batch_id = self._new_batch(cur, list_id, "submission-review", why, actor)
        moved = 0
        if rewrite:
            moved = self._rewrite_items(cur, rewrite, batch_id)
            for item, _, category in rewrite:
                self._q(
                    cur,
                    "UPDATE items SET category_id = ?, last_batch = ? WHERE id = ?",
                    (category, batch_id, item),
                )
            self._history(
                cur,
                [(i, batch_id, "recategorised", before[i], c, None, None) for i, _, c in rewrite],
            )
        removed = 0
        if doomed:
            self._fill(cur, "sub_doomed", doomed)
            removed = self._remove_items(cur, "sub_doomed", batch_id, reason=why)
            self._q(cur, "DROP TABLE sub_doomed")
        self._finish_batch(
            cur, batch_id, 0, 0, sorted({r[2] for r in rewrite}), changed=moved, removed=removed
        )


def _item_state(item_id: object, state: object, category: object) -> str:
    if item_id is None:
        return "none"
    if state != "active":
        return "removed"
    return "active" if category == ACTIVE_CATEGORY else "held"


def _failed(exc: Exception) -> StoreError:
    """A case's failure that is not a refusal (a constraint the case broke), as the store's
    own error: it was not stored, and it is no reason to refuse the cases beside it."""
    return Unavailable(f"the case could not be stored: {type(exc).__name__}: {exc}")
