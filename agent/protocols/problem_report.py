"""Report Problem 2.0 (``https://didcomm.org/report-problem/2.0/problem-report``).

DIDComm Messaging v2, "Problem Reports": the body holds a required ``code``, an optional
``comment`` (statically tied to the code, with ``{1}``, ``{2}``... placeholders), ``args`` (the
values interpolated) and ``escalate_to`` (a URI). The ``pthid`` header is REQUIRED and names the
thread with the problem.

A code is ``<sorter>.<scope>.<descriptor>...`` in lower kebab-case: the sorter is ``e`` (error)
or ``w`` (warning); the scope is ``p`` (the protocol is abandoned), ``m`` (only the last message
is rejected) or a state name the sender reverts to; descriptors such as ``msg``, ``trust``,
``trust.crypto``, ``xfer``, ``did``, ``me``, ``me.res``, ``req``, ``req.time``, ``legal`` go from
general to specific.

Receiving (:func:`handle_problem_report`): an error (``e``) with any scope other than ``m`` moves
every open record of the parent thread on that connection to ``abandoned`` (we cannot follow a
revert to a peer's state name, so we abandon as the spec's issue-credential and present-proof
prescribe). Warnings and ``m``-scoped errors change nothing. A report for an unknown thread is
ignored, never answered, so that two agents cannot loop on problem-reports.

Sending (:func:`problem_report_for`): turns one of our errors that carries
``details["problem_code"]`` into the report for the peer. Externally vague: the comment is the
static text of the code, never our internal message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.clock import Clock
from agent.errors import HealthMyDataError, ProtocolStateError
from agent.protocols import _flow
from agent.protocols._messages import (
    Piuri,
    body_str,
    expect_type,
    malformed,
    new_message,
    reply_addressing,
)
from agent.protocols.base import RecordRepository
from agent.types import JSONObject

__all__ = [
    "PROBLEM_REPORT",
    "REPORT_PROBLEM",
    "STATIC_COMMENTS",
    "ProblemReport",
    "build_problem_report",
    "handle_problem_report",
    "parse_problem_report",
    "problem_report_for",
    "render_comment",
    "report_problem",
]

REPORT_PROBLEM: Final = "https://didcomm.org/report-problem/2.0"
_PIURI: Final = Piuri.parse(REPORT_PROBLEM)
PROBLEM_REPORT: Final = _PIURI.message_type("problem-report")

_WORD: Final = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_CODE: Final = re.compile(rf"^(e|w)\.({_WORD})((?:\.{_WORD})*)$")
_PLACEHOLDER: Final = re.compile(r"\{(\d+)\}")

#: The static comment sent with each code the protocol layer emits (DIDComm v2 descriptor table).
STATIC_COMMENTS: Final[dict[str, str]] = {
    "e.p.msg.malformed": "Bad message.",
    "e.p.msg.unsupported": "Message type {1} is not supported.",
    "e.p.msg.unexpected": "The message is out of order for this thread.",
    "e.p.msg.presentation-rejected": "The presentation does not satisfy the request.",
    "e.p.req.time": "Failed to satisfy timing constraints.",
    "e.p.xfer.cant-fetch": "Unable to transport data.",
    "e.p.me": "Internal error.",
    "e.p.trust": "Failed to achieve required trust.",
}


@dataclass(frozen=True, slots=True)
class ProblemReport:
    """A parsed problem-report.

    :param code: the whole code, e.g. ``e.p.msg.unexpected``.
    :param sorter: ``e`` (error) or ``w`` (warning).
    :param scope: ``p``, ``m`` or a state name.
    :param descriptors: the remaining tokens, general to specific (``("msg", "unexpected")``).
    :param pthid: the thread with the problem.
    """

    code: str
    sorter: str
    scope: str
    descriptors: tuple[str, ...]
    pthid: str
    comment: str | None
    args: tuple[str, ...]
    escalate_to: str | None
    message: JSONObject

    @property
    def is_error(self) -> bool:
        return self.sorter == "e"

    @property
    def abandons_protocol(self) -> bool:
        """Whether the receiver abandons the parent thread (an error not scoped to a message)."""
        return self.is_error and self.scope != "m"

    def text(self) -> str | None:
        """The comment with ``args`` interpolated, for people."""
        return None if self.comment is None else render_comment(self.comment, self.args)


def render_comment(comment: str, args: Sequence[str | None]) -> str:
    """Interpolate ``{1}``, ``{2}``... in ``comment``: missing or null args become ``?`` and extra
    args are appended comma-separated (DIDComm v2, "Problem Reports")."""
    used: set[int] = set()

    def substitute(match: re.Match[str]) -> str:
        index = int(match.group(1))
        used.add(index)
        if 1 <= index <= len(args) and args[index - 1] is not None:
            return str(args[index - 1])
        return "?"

    text = _PLACEHOLDER.sub(substitute, comment)
    extra = [str(arg) for i, arg in enumerate(args, 1) if i not in used and arg is not None]
    return f"{text} {', '.join(extra)}" if extra else text


def _check_code(code: Any) -> re.Match[str]:
    match = _CODE.match(code) if isinstance(code, str) else None
    if match is None:
        raise malformed(
            "a problem code is '<e|w>.<scope>.<descriptor>...' in lower kebab-case "
            "(e.g. e.p.msg.unexpected)",
            member="code",
        )
    return match


def parse_problem_report(message: Any) -> ProblemReport:
    """Check a report-problem 2.x problem-report strictly.

    :raises InvalidInputError: no ``pthid``, a malformed ``code``, non-string ``args`` or
        ``comment``.
    :raises ProtocolStateError: ``reason=unsupportedMessageType`` for another message type.
    """
    checked, _ = expect_type(message, _PIURI, "problem-report")
    pthid = checked.get("pthid")
    if not pthid:
        raise malformed("a problem-report must name the thread with the problem in 'pthid'")
    body = checked["body"]
    match = _check_code(body.get("code"))
    comment = body_str(body, "comment")
    escalate_to = body_str(body, "escalate_to")
    args = body.get("args", [])
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise malformed("problem-report 'args' must be an array of strings", member="args")
    sorter, scope, rest = match.groups()
    return ProblemReport(
        code=str(body["code"]),
        sorter=sorter,
        scope=scope,
        descriptors=tuple(token for token in rest.split(".") if token),
        pthid=str(pthid),
        comment=comment,
        args=tuple(args),
        escalate_to=escalate_to,
        message=checked,
    )


def build_problem_report(
    code: str,
    *,
    pthid: str,
    clock: Clock,
    comment: str | None = None,
    args: Iterable[str] | None = None,
    escalate_to: str | None = None,
    thid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A problem-report about thread ``pthid``; ``comment`` defaults to the code's static text.

    :raises InvalidInputError: ``code`` is not a well-formed problem code.
    """
    _check_code(code)
    body: JSONObject = {"code": code}
    text = comment if comment is not None else STATIC_COMMENTS.get(code)
    if text is not None:
        body["comment"] = text
    arguments = list(args or [])
    if arguments:
        body["args"] = arguments
    if escalate_to is not None:
        body["escalate_to"] = escalate_to
    message = new_message(
        PROBLEM_REPORT, body, clock=clock, thid=thid, pthid=pthid, from_=from_, to=to
    )
    parse_problem_report(message)
    return message


def problem_report_for(
    error: HealthMyDataError, message: Mapping[str, Any] | Any, *, clock: Clock
) -> JSONObject | None:
    """The problem-report to send the peer for ``error`` raised while handling ``message``.

    ``None`` when the error is internal (no ``details["problem_code"]``, e.g. a redelivery or a
    lost race) or the message has no usable ``id`` to name the thread.
    """
    code = error.details.get("problem_code")
    if not isinstance(code, str) or not isinstance(message, Mapping):
        return None
    msg_id = message.get("id")
    if not isinstance(msg_id, str) or not msg_id:
        return None
    thid = message.get("thid")
    pthid = thid if isinstance(thid, str) and thid else msg_id
    args = None
    if code == "e.p.msg.unsupported" and isinstance(message.get("type"), str):
        args = [str(message["type"])[:200]]
    addressing = {
        key: value
        for key, value in reply_addressing(message).items()
        if key != "from_" or isinstance(value, str)
    }
    return build_problem_report(code, pthid=pthid, clock=clock, args=args, **addressing)


async def handle_problem_report(
    message: Any,
    *,
    repository: RecordRepository,
    connection_id: str | None,
) -> list[JSONObject]:
    """Abandon the open records of the reported thread; never answers (returns ``[]``).

    :raises InvalidInputError: the problem-report is malformed.
    """
    report = parse_problem_report(message)
    if not report.abandons_protocol:
        return []
    problem = {"code": report.code, "comment": report.text()}
    for record in await repository.find(thread_id=report.pthid):
        if record.connection_id != connection_id:
            continue
        await _flow.abandon(repository, record, problem, message_id=str(report.message["id"]))
    return []


async def report_problem(
    repository: RecordRepository,
    protocol: str,
    thread_id: str,
    code: str,
    *,
    comment: str | None = None,
    args: Iterable[str] | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Give up a thread ourselves: move its record to ``abandoned`` and return the problem-report
    to send (``pthid`` = the thread), e.g. when the citizen declines an offer.

    :raises ProtocolStateError: ``reason=unknownThread`` when there is no such thread;
        ``illegalTransition`` when it is finished already (``done`` or ``abandoned``).
    :raises InvalidInputError: ``code`` is not a well-formed problem code.
    """
    message = build_problem_report(
        code,
        pthid=thread_id,
        clock=repository.clock,
        comment=comment,
        args=args,
        from_=from_,
        to=to,
    )
    record = await repository.get(protocol, thread_id)
    if record is None:
        raise ProtocolStateError(
            f"no thread {thread_id!r} of {protocol} to report a problem on",
            details={"reason": "unknownThread", "thread_id": thread_id},
        )
    await repository.transition(
        protocol,
        thread_id,
        "abandoned",
        update_data={"problem": {"code": code, "sent": True}},
        message_id=str(message["id"]),
    )
    return message
