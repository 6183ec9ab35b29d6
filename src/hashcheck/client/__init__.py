"""The hosting provider's side: a client for the hash check service that never fails open.

Every answer is a `Result` with one of three outcomes — match, no match, or indeterminate
(with the reason) — so that an error can never be mistaken for a clean file. Needs only
`httpx`; importing it loads none of the server's dependencies.
"""

from hashcheck.client.aio import AsyncHashcheckClient
from hashcheck.client.results import Match, Outcome, Result
from hashcheck.client.sync import HashcheckClient

__all__ = ["AsyncHashcheckClient", "HashcheckClient", "Match", "Outcome", "Result"]
