"""Publishing a bundle on the Hugging Face Hub (``aaae push``, ``aaae export --push-to-hub``).

:func:`push_bundle` first verifies every file of the bundle against its ``checksums.sha256``: a damaged or
modified bundle is refused before any network access. It then creates the repo if needed
(``create_repo(exist_ok=True)``; ``create_branch(exist_ok=True)`` for a ``revision``) and uploads, in one
commit (``upload_folder``), exactly the files the manifest lists plus the manifest itself; the model card
(``README.md``) is one of them. The card's usage lines are pointed at the repo (``--model path/to/NAME``
becomes ``--model user/name``), so the uploaded ``README.md`` and its line in the manifest may differ from the
local ones in that; the local bundle is never changed. What goes up is the bytes that were verified, staged
in a temporary folder by the one bundle writer (:class:`aaae_cli.bundle.writer.BundleWriter`, which writes the
manifest).

The token is ``token``, else ``$HF_TOKEN``, else the one saved by ``hf auth login``; ``$HF_ENDPOINT`` picks
another Hub. Failures are one-line :class:`~aaae_cli.errors.UserError`\\ s: not logged in, a rejected token
(401), no write permission (403), an unreachable Hub, any other refusal (with its HTTP status).
Downloading is :func:`aaae_cli.bundle.locate.download` (``--model user/name@revision``).

huggingface_hub is imported inside the functions, as in :mod:`aaae_cli.bundle.locate`.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aaae_cli.bundle.card import usage_reference
from aaae_cli.bundle.folder import CARD, MANIFEST, Bundle, BundleError
from aaae_cli.bundle.locate import _first_line, _hub_errors
from aaae_cli.bundle.writer import BundleWriter
from aaae_cli.errors import UserError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_REVISION = re.compile(r"^[\w./-]+$")
_NETWORK_MODULES = ("httpx", "httpx2", "httpcore", "requests", "urllib3", "socket", "ssl")


@dataclass(frozen=True)
class PushResult:
    """What :func:`push_bundle` uploaded, and where."""

    repo_id: str
    revision: str  # the branch committed to
    repo_url: str
    commit_url: str
    commit: str  # the commit's id (SHA-1)
    files: tuple[str, ...]  # the uploaded file names, manifest included

    @property
    def model_ref(self) -> str:
        """How to load exactly this upload: ``user/name@commit`` (for ``--model`` or :func:`aaae_cli.load`)."""
        return f"{self.repo_id}@{self.commit}" if self.commit else self.repo_id


def parse_repo_id(repo_id: str, revision: str | None = None) -> tuple[str, str | None]:
    """Check ``user/name`` (``user/name@branch`` gives the branch too); returns (repo id, revision)."""
    text = repo_id.strip()
    if "@" in text:
        text, _, given = text.partition("@")
        if revision is not None and given != revision:
            raise UserError(f"{repo_id}: the id names revision {given!r} but --revision says {revision!r}")
        revision = given
    if not _REPO_ID.match(text) or ".." in text or text.endswith((".", "-")):
        raise UserError(f"{repo_id!r}: not a Hugging Face Hub repo id (user/name or org/name)")
    if revision is not None and (not _REVISION.match(revision) or ".." in revision or revision.startswith("/")):
        raise UserError(f"{revision!r}: not a valid branch name")
    return text, revision


def resolve_token(token: str | None = None) -> str:
    """``token``, else ``$HF_TOKEN``, else the token saved by ``hf auth login``; a UserError when there is none."""
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise UserError(
            "not logged in to the Hugging Face Hub: run 'hf auth login', set HF_TOKEN or pass --token "
            "(a token with write access)"
        )
    return found


def check_push(repo_id: str, token: str | None = None, revision: str | None = None) -> None:
    """The checks :func:`push_bundle` makes before any work, for callers that push after a long job (export)."""
    parse_repo_id(repo_id, revision)
    resolve_token(token)


def push_bundle(
    bundle: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    message: str | None = None,
) -> PushResult:
    """Upload the bundle folder ``bundle`` to the Hub model repo ``repo_id`` in one commit.

    Args:
        bundle: the bundle folder (from ``aaae export``); every file is checked against its manifest first.
        repo_id: ``user/name`` or ``org/name``, created if it does not exist (``user/name@branch`` also sets
            ``revision``).
        private: create the repo private (an existing repo keeps its visibility).
        revision: the branch to commit to, created from the default branch if needed (default: ``main``).
        token: a Hub token with write access (default: ``$HF_TOKEN`` or ``hf auth login``'s).
        message: the commit message (default: ``Upload aaae model NAME``).

    Returns:
        A :class:`PushResult`: the repo and commit URLs, the commit id and the uploaded file names.

    Raises:
        UserError: a damaged bundle (before any network access), a bad repo id, no token, or the Hub's
            refusal (401, 403, ...) or absence, each as one line.
    """
    repo_id, revision = parse_repo_id(repo_id, revision)
    folder = Path(bundle).expanduser()
    try:
        opened = Bundle(folder, str(bundle))
        opened.verify_all()
    except BundleError as exc:
        raise UserError(f"refusing to push: {exc}") from None
    token = resolve_token(token)
    reference = repo_id + (f"@{revision}" if revision else "")
    from huggingface_hub import HfApi, constants

    api = HfApi(token=token)
    endpoint = constants.ENDPOINT
    with tempfile.TemporaryDirectory(prefix="aaae-push-") as tmp:
        staging = Path(tmp)
        writer = BundleWriter(folder, staging)  # staged, never swapped in: the local bundle is not changed
        current = usage_reference(opened.config.to_dict())
        changed = {CARD: _point_card_at(opened.read(CARD), current, reference)} if CARD in opened.manifest else {}
        writer.copy_bundle(opened, {MANIFEST}, changed)  # the verified bytes are the ones uploaded
        files = (*writer.seal(), MANIFEST)
        with _hub_call(repo_id, "creating the repo", endpoint):
            repo_url = api.create_repo(repo_id, repo_type="model", private=True if private else None, exist_ok=True)
        if revision:
            with _hub_call(repo_id, f"creating branch {revision!r}", endpoint):
                api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
        with _hub_call(repo_id, "uploading", endpoint):
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=staging,
                repo_type="model",
                revision=revision,
                commit_message=message or f"Upload aaae model {opened.name}",
                allow_patterns=list(files),
            )
    return PushResult(
        repo_id=repo_id,
        revision=revision or "main",
        repo_url=str(repo_url),
        commit_url=str(getattr(info, "commit_url", "") or ""),
        commit=str(getattr(info, "oid", "") or ""),
        files=files,
    )


def _point_card_at(card: bytes, current: str, reference: str) -> bytes:
    """The model card with its usage lines, which name the model ``current`` (see
    :func:`~aaae_cli.bundle.card.usage_reference`), pointed at the repo; the rest of the card is kept as is."""
    text = card.decode("utf-8", errors="strict") if card else ""
    for before, after in (
        (f"--model {current} ", f"--model {reference} "),
        (f'aaae.load("{current}")', f'aaae.load("{reference}")'),
    ):
        text = text.replace(before, after)
    return text.encode("utf-8")


@contextmanager
def _hub_call(repo_id: str, step: str, endpoint: str) -> Iterator[None]:
    """Turn the Hub client's failures during ``step`` into one-line UserErrors."""
    errors = _hub_errors()
    try:
        yield
    except errors["HfHubHTTPError"] as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        reason = getattr(response, "reason_phrase", None) or getattr(response, "reason", None) or ""
        if status == 401:
            raise UserError(
                f"{repo_id}: {step} failed: the Hub rejected the token (HTTP 401); log in again with "
                "'hf auth login' or set HF_TOKEN"
            ) from None
        if status == 403:
            raise UserError(
                f"{repo_id}: {step} failed: no permission to write to this repo (HTTP 403); use a token with "
                f"write access to {repo_id.split('/')[0]!r}"
            ) from None
        what = f"HTTP {status} {reason}".strip() if status else _first_line(exc)
        raise UserError(f"{repo_id}: {step} failed: the Hub at {endpoint} refused ({what})") from None
    except errors["HFValidationError"] as exc:
        raise UserError(f"{repo_id}: not a valid Hub repo id ({_first_line(exc)})") from None
    except Exception as exc:
        if _is_network_error(exc):
            raise UserError(
                f"{repo_id}: {step} failed: cannot reach the Hub at {endpoint} ({_first_line(exc)})"
            ) from None
        raise


def _is_network_error(exc: BaseException) -> bool:
    """Connection, timeout and TLS failures, whichever HTTP library the Hub client uses."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return type(exc).__module__.split(".")[0] in _NETWORK_MODULES
