"""Finding a model: a built-in name, a local bundle folder, or a Hugging Face Hub repo id.

``--model`` is read in this order:

1. an existing folder (or anything that looks like a path: ``./x``, ``~/x``, ``/x``, ``x\\y``) is a bundle folder;
2. a built-in name: a bundle folder inside the installed ``aaae_models`` package, or in a folder listed in
   ``$AAAE_MODEL_PATH`` (``os.pathsep``-separated; these come first);
3. ``user/name`` or ``user/name@revision``: a Hub repo, downloaded once into the normal Hugging Face cache
   with :func:`huggingface_hub.snapshot_download` (``HF_HUB_OFFLINE=1`` uses the cached copy only).

With no ``--model``: ``$AAAE_MODEL`` if set, else the default built-in model.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from aaae_cli.bundle.folder import BUNDLE_PATTERNS, CONFIG, MANIFEST, Bundle, BundleError
from aaae_cli.errors import UserError

_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<revision>[\w./-]+))?$")


def builtin_roots() -> list[Path]:
    """Folders searched for built-in bundles: ``$AAAE_MODEL_PATH`` entries, then the installed package."""
    roots = [Path(p).expanduser() for p in os.environ.get("AAAE_MODEL_PATH", "").split(os.pathsep) if p.strip()]
    try:
        import aaae_models

        roots.append(aaae_models.ROOT)
    except ImportError:  # an install without the model zoo
        pass
    return roots


def builtin_models() -> dict[str, Path]:
    """Installed built-in models: {name: bundle folder} (the first root holding a name wins)."""
    found: dict[str, Path] = {}
    for root in builtin_roots():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and (folder / CONFIG).is_file() and folder.name not in found:
                found[folder.name] = folder
    return found


def default_model() -> str:
    """The model used when none is given: ``$AAAE_MODEL``, else the default built-in."""
    chosen = os.environ.get("AAAE_MODEL")
    if chosen:
        return chosen
    installed = builtin_models()
    try:
        import aaae_models

        preferred = aaae_models.DEFAULT
    except ImportError:
        preferred = None
    if preferred and preferred in installed:
        return preferred
    if installed:
        return next(iter(installed))
    raise UserError(
        "no model given and no built-in model is installed: pass --model with a bundle folder "
        "(from 'aaae export') or a Hugging Face Hub id (user/name)"
    )


def _looks_like_path(spec: str) -> bool:
    """Whether ``spec`` can only be a folder path. A Hub revision may hold ``/`` (``user/name@refs/pr/1``,
    ``user/name@feature/x``): only the part before ``@`` of a Hub id is counted."""
    if spec.startswith((".", "~", "/")) or "\\" in spec or (os.sep != "/" and os.sep in spec):
        return True
    match = _HUB_ID.match(spec)
    return (match.group("repo") if match else spec).count("/") > 1


def open_model(spec: str | os.PathLike[str] | None) -> Bundle:
    """Open the bundle that ``spec`` names (see the module docstring); one-line UserErrors otherwise."""
    if spec is None:
        spec = default_model()
    text = str(spec)
    path = Path(text).expanduser()
    if isinstance(spec, os.PathLike) or path.is_dir() or _looks_like_path(text):
        if not path.exists():
            raise UserError(f"{text}: no such model folder")
        return Bundle(path, text)
    installed = builtin_models()
    if text in installed:
        return Bundle(installed[text], text)
    match = _HUB_ID.match(text)
    if match:
        revision = match.group("revision")
        if revision and (".." in revision.split("/") or revision.startswith("/")):  # read as a path in the cache
            raise UserError(f"{text}: {revision!r} is not a valid Hub revision")
        try:
            folder = download(match.group("repo"), revision)
        except UserError as exc:
            if path.parent.is_dir() and str(path.parent) not in ("", "."):
                raise UserError(f"{text}: no such model folder; as a Hub id: {exc}") from None
            raise
        return _complete(Bundle(folder, text), match.group("repo"))
    if path.exists():
        raise UserError(f"{text}: is a file, not a model bundle folder")
    names = ", ".join(installed) if installed else "none installed"
    raise UserError(
        f"unknown model {text!r}: not a built-in name (installed: {names}), a bundle folder or a Hub id (user/name)"
    )


def download(repo_id: str, revision: str | None = None, patterns: list[str] | None = None) -> Path:
    """Download (or find in the cache) a bundle from the Hub; returns the local snapshot folder.

    Only the files a bundle may hold (``patterns``, default :data:`~aaae_cli.bundle.folder.BUNDLE_PATTERNS`) are
    fetched; nothing downloaded is ever unpickled or executed, and each file is checked against the bundle's
    manifest before it is used. One-line UserErrors: no such repo (or private, or gated), no such revision,
    no network and not cached, any other refusal.
    """
    from huggingface_hub import snapshot_download

    errors = _hub_errors()
    shown = repo_id + (f"@{revision}" if revision else "")
    allow = list(patterns if patterns is not None else BUNDLE_PATTERNS)
    try:
        folder = snapshot_download(repo_id, revision=revision, repo_type="model", allow_patterns=allow)
    except errors["GatedRepoError"]:
        raise UserError(f"{shown}: this Hub repo is gated; accept its terms on huggingface.co and log in") from None
    except errors["RevisionNotFoundError"]:
        raise UserError(f"{shown}: the Hub repo has no revision {revision!r}") from None
    except errors["RepositoryNotFoundError"]:
        what = f"no such model or revision {revision!r}" if revision else "no such model"
        raise UserError(f"{shown}: {what} on the Hugging Face Hub (or it is private: log in first)") from None
    except errors["LocalEntryNotFoundError"]:
        raise UserError(f"{shown}: cannot reach the Hugging Face Hub and the model is not in the local cache") from None
    except errors["HFValidationError"] as exc:
        raise UserError(f"{shown}: not a valid Hub repo id ({exc})") from None
    except errors["HfHubHTTPError"] as exc:
        raise UserError(f"{shown}: download from the Hugging Face Hub failed ({_first_line(exc)})") from None
    except OSError as exc:
        raise UserError(f"{shown}: cannot download from the Hugging Face Hub ({_first_line(exc)})") from None
    except Exception as exc:  # network libraries raise their own types (connection, timeout)
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "requests", "urllib3", "huggingface_hub"):
            raise UserError(f"{shown}: cannot reach the Hugging Face Hub ({_first_line(exc)})") from None
        raise
    return Path(folder)


def _complete(bundle: Bundle, repo_id: str) -> Bundle:
    """A downloaded bundle with every file its manifest lists: files outside :data:`BUNDLE_PATTERNS` are
    fetched from the same commit; a file the repo lacks is a one-line error now, not when it is first used."""
    missing = [name for name in sorted(bundle.manifest) if not (bundle.path / name).is_file()]
    if missing:
        with contextlib.suppress(UserError):  # the snapshot folder is named by its commit
            download(repo_id, bundle.path.name, patterns=missing)
        missing = [name for name in missing if not (bundle.path / name).is_file()]
    if missing:
        raise BundleError(
            f"{bundle.source}: the Hub repo lacks {', '.join(missing)} (listed in its {MANIFEST}), or it is not in "
            "the local cache; the uploaded bundle is incomplete"
        )
    return bundle


def _hub_errors() -> dict[str, type[BaseException]]:
    try:
        from huggingface_hub import errors as module
    except ImportError:  # older huggingface_hub
        from huggingface_hub import utils as module  # type: ignore[no-redef]
    names = (
        "GatedRepoError",
        "RevisionNotFoundError",
        "RepositoryNotFoundError",
        "LocalEntryNotFoundError",
        "HFValidationError",
        "HfHubHTTPError",
    )

    class _Never(Exception):
        pass

    return {name: getattr(module, name, _Never) for name in names}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
