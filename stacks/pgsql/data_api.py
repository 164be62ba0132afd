"""An ``Executor`` over the RDS Data API (``rds-data:ExecuteStatement``): no network path into the VPC.

It waits out a cluster that is resuming, still starting or briefly unavailable, retrying with
exponential backoff and jitter until a deadline, and fails at once on anything a retry cannot fix
(a SQL error, missing permissions, the Data API being off).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .errors import BootstrapError, StatementError

LOGGER = logging.getLogger("pgvector_bootstrap")

# Error codes from the rds-data model (botocore/data/rds-data/2018-08-01/service-2.json) that mean
# "not yet", not "no":
TRANSIENT_ERROR_CODES = frozenset(
    {
        "DatabaseResumingException",  # Serverless v2 waking up from auto-pause; the call triggers the resume
        "DatabaseUnavailableException",  # 504: the writer instance isn't available (starting, rebooting)
        # "The DB cluster doesn't have a DB instance": the writer is still being attached during a first
        # deploy. A cluster that truly has none keeps failing until the deadline, with this message.
        "DatabaseNotFoundException",
        "ServiceUnavailableError",  # 503
        "InternalServerErrorException",  # 500
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)
# The deprecated BadRequestException still carries the JDBC message of a cluster not yet reachable.
_UNREACHABLE_MESSAGE = "Communications link failure"
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 20.0


def is_transient(code: str, message: str) -> bool:
    """Whether a Data API error is worth retrying (the cluster is not reachable yet)."""
    if code in TRANSIENT_ERROR_CODES:
        return True
    return code == "BadRequestException" and _UNREACHABLE_MESSAGE in message


def backoff_delay(attempt: int, *, jitter: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): doubling from 1 s, capped at 20 s.

    ``jitter`` in [0, 1) spreads the wait over the upper half of the step, so concurrent callers
    drift apart while each still makes progress.
    """
    step = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempt, 16))
    return step / 2 + step / 2 * jitter


class DataApiExecutor:
    """Runs statements with ``execute_statement`` on ``resource_arn`` as the user of ``secret_arn``.

    ``client`` is a boto3 ``rds-data`` client; pass one with botocore's own retries off, so that
    ``deadline`` (a ``time.monotonic()`` value) bounds the whole wait. ``sleep``, ``clock`` and
    ``jitter`` are there for tests.
    """

    def __init__(
        self,
        client: Any,
        *,
        resource_arn: str,
        secret_arn: str,
        database: str,
        deadline: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        log: logging.Logger = LOGGER,
    ) -> None:
        self._client = client
        self._resource_arn = resource_arn
        self._secret_arn = secret_arn
        self._database = database
        self._deadline = deadline
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._log = log

    def execute(self, sql: str) -> list[tuple]:
        """Run one statement; return its rows as tuples ([] when it returns none).

        Raises ``StatementError`` for a non-transient error and ``BootstrapError`` once the deadline
        passes while the cluster is still unreachable.
        """
        first_try = self._clock()
        attempt = 0
        while True:
            try:
                response = self._client.execute_statement(
                    resourceArn=self._resource_arn,
                    secretArn=self._secret_arn,
                    database=self._database,
                    sql=sql,
                )
                records = response.get("records", [])
                return [tuple(field_value(field) for field in record) for record in records]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code, message = str(error.get("Code", "Unknown")), str(error.get("Message", ""))
                if not is_transient(code, message):
                    raise StatementError(f"{code}: {message}") from None
                last_error = f"{code}: {message}"
            except (BotoConnectionError, HTTPClientError) as exc:
                # Network trouble between Lambda and the Data API endpoint: as transient as a resume.
                last_error = f"{type(exc).__name__}: {exc}"
            now = self._clock()
            remaining = self._deadline - now
            if remaining <= 0:
                raise BootstrapError(
                    f"the cluster did not become reachable through the Data API in {now - first_try:.0f} s "
                    f"({attempt + 1} tries); last error: {last_error}"
                )
            delay = min(remaining, backoff_delay(attempt, jitter=self._jitter()))
            self._log.warning("cluster not reachable yet (%s); retry %d in %.1f s", last_error, attempt + 1, delay)
            self._sleep(delay)
            attempt += 1


def field_value(field: Mapping[str, Any]) -> Any:
    """A Python value for one Data API ``Field`` (a union: exactly one key is set)."""
    if field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if key in field:
            return field[key]
    if "arrayValue" in field:
        return array_value(field["arrayValue"])
    raise StatementError(f"unsupported Data API field type: {', '.join(sorted(field)) or 'empty'}")


def array_value(array: Mapping[str, Any]) -> list[Any]:
    """A Python list for one Data API ``ArrayValue`` (nested arrays become nested lists)."""
    for key in ("stringValues", "longValues", "doubleValues", "booleanValues"):
        if key in array:
            return list(array[key])
    if "arrayValues" in array:
        return [array_value(item) for item in array["arrayValues"]]
    return []
