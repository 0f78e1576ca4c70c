"""Sharing models on the Hugging Face Hub (issue #6): ``--model user/name[@rev]``, ``aaae push``,
``aaae export --push-to-hub`` and the bundle's file-name and symlink checks.

Downloads run end to end against a real Hub-protocol server on loopback: ``olah`` serving git repositories
offline (``[accessibility] offline = true``), with ``HF_ENDPOINT`` pointing at it and a fresh Hugging Face
cache per test. olah refuses uploads (``create_repo`` gets 405), so a push is tested up to that refusal; the
upload call itself is checked by recording what :func:`aaae_cli.bundle.hub.push_bundle` hands the real
``huggingface_hub`` client (no upload reaches a server in this suite).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aaae_cli.bundle.folder import MANIFEST, Bundle, BundleError, read_manifest, sha256_file, write_manifest
from tests.conftest import ASTRONAUT, assert_user_error, run_cli

TOKEN = "hf_test_token_not_real"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git(folder: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=aaae tests", "-c", "user.email=tests@example.invalid", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


class OlahHub:
    """An olah server on loopback, serving the git repositories under ``mirrors/models/ORG/NAME`` offline."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mirrors = root / "mirrors"
        (self.mirrors / "models").mkdir(parents=True)
        (root / "repos").mkdir()
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        netloc = f"127.0.0.1:{self.port}"
        (root / "configs.toml").write_text(
            "[basic]\n"
            'host = "127.0.0.1"\n'
            f"port = {self.port}\n"
            f'repos-path = "{(root / "repos").as_posix()}"\n'
            f'mirror-netloc = "{netloc}"\n'
            f'mirror-lfs-netloc = "{netloc}"\n'
            f'mirrors-path = ["{self.mirrors.as_posix()}"]\n'
            "[accessibility]\n"
            "offline = true\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        log = open(self.root / "olah.log", "wb")  # noqa: SIM115 - closed with the process
        script = "import sys; from olah.server import cli; sys.argv = ['olah-cli', '-c', 'configs.toml']; cli()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], cwd=self.root, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"olah exited with {self.process.returncode}:\n{(self.root / 'olah.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"olah did not accept connections in {timeout} s:\n{(self.root / 'olah.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def publish(self, repo_id: str, bundle: Path, tag: str | None = None) -> str:
        """Commit the bundle's files as the new state of ``repo_id`` (a git repo); returns the commit SHA."""
        repo = self.mirrors / "models" / repo_id
        if not repo.exists():
            repo.mkdir(parents=True)
            _git(repo, "init", "-q", "-b", "main")
        for old in repo.iterdir():
            if old.name != ".git":
                old.unlink()
        for file in bundle.iterdir():
            shutil.copy2(file, repo / file.name)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"publish {bundle.name}")
        if tag:
            _git(repo, "tag", tag)
        return _git(repo, "rev-parse", "HEAD")

    def env(self, tmp_path: Path, **extra: str) -> dict[str, str]:
        """The environment of a client of this server, with its own, empty Hugging Face cache."""
        return {
            "HF_ENDPOINT": self.endpoint,
            "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
            "HF_TOKEN": "",
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "AAAE_MODEL_PATH": "",
            **extra,
        }


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[OlahHub]:
    """A running olah server with no repositories yet; stopped at teardown."""
    pytest.importorskip("olah", reason="the Hub tests need olah (pip install -e '.[test]')")
    if shutil.which("git") is None:
        pytest.skip("the Hub tests need git (olah serves git repositories)")
    server = OlahHub(tmp_path / "olah")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _snapshots(tmp_path: Path, repo_id: str) -> list[str]:
    folder = tmp_path / "hf" / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _second_version(bundle: Path, folder: Path) -> Path:
    """A copy of the bundle with another model card (and so another manifest): a second, valid version."""
    copy = Path(shutil.copytree(bundle, folder))
    with open(copy / "README.md", "a", encoding="utf-8") as card:
        card.write("\nVersion 2.\n")
    write_manifest(copy, sorted(read_manifest((copy / MANIFEST).read_text(), "m")))
    return copy


# ---------------------------------------------------------------- downloads


@pytest.mark.slow
def test_download_revisions_and_offline_reuse(hub: OlahHub, tiny_bundle: Path, tmp_path: Path) -> None:
    first = hub.publish("org/digits", tiny_bundle, tag="v1")
    second = hub.publish("org/digits", _second_version(tiny_bundle, tmp_path / "v2"))  # appears without a restart
    env = hub.env(tmp_path)
    out = tmp_path / "out.png"
    # The real command downloads main, then the tag, each into its own snapshot of the cache.
    result = run_cli("sample", "-n", "4", str(out), "--seed", "1", "--model", "org/digits", env=env)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and _snapshots(tmp_path, "org/digits") == [second]
    result = run_cli("sample", "-n", "4", str(tmp_path / "v1.png"), "--seed", "1", "--model", "org/digits@v1", env=env)
    assert result.returncode == 0, result.stderr
    assert _snapshots(tmp_path, "org/digits") == sorted([first, second])
    assert (tmp_path / "v1.png").read_bytes() == out.read_bytes()  # same graphs, same seed
    cached = tmp_path / "hf" / "hub" / "models--org--digits" / "snapshots" / second
    assert sorted(p.name for p in cached.iterdir()) == sorted(p.name for p in tiny_bundle.iterdir())
    result = run_cli("info", "--model", f"org/digits@{first}", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert '"encoder.onnx"' in result.stdout

    hub.stop()
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    for spec in ("org/digits", "org/digits@v1", f"org/digits@{first}"):
        result = run_cli("sample", "-n", "2", str(tmp_path / "off.png"), "--model", spec, env=offline)
        assert result.returncode == 0, (spec, result.stderr)
    # Not offline, but the server is gone: the cached main still loads.
    result = run_cli("sample", "-n", "2", str(tmp_path / "gone.png"), "--model", "org/digits", env=env)
    assert result.returncode == 0, result.stderr
    # Nothing cached for this revision: one clear line, offline or not.
    for environment in (offline, env):
        assert_user_error(
            run_cli("sample", "-n", "2", str(tmp_path / "x.png"), "--model", "org/digits@v9", env=environment),
            "org/digits@v9",
            "cannot reach the Hugging Face Hub",
            "not in the local cache",
        )
    assert not (tmp_path / "x.png").exists()


def test_download_errors(hub: OlahHub, tiny_bundle: Path, tmp_path: Path) -> None:
    env = hub.env(tmp_path)
    out = tmp_path / "out.png"
    assert_user_error(
        run_cli("sample", "-n", "2", str(out), "--model", "org/nothing", env=env),
        "org/nothing",
        "no such model on the Hugging Face Hub",
    )
    # A repo whose manifest lists a graph that was never committed.
    partial = Path(shutil.copytree(tiny_bundle, tmp_path / "partial"))
    (partial / "decoder.onnx").unlink()
    hub.publish("org/partial", partial)
    assert_user_error(
        run_cli("sample", "-n", "2", str(out), "--model", "org/partial", env=env),
        "org/partial",
        "lacks decoder.onnx",
    )
    # olah answers an unknown revision as it does an unknown repo (401); the message covers both.
    assert_user_error(
        run_cli("sample", "-n", "2", str(out), "--model", "org/partial@nosuch", env=env),
        "org/partial@nosuch",
        "no such model or revision 'nosuch'",
    )
    # A repo whose graph does not match its checksum: caught after download, before onnxruntime sees it.
    damaged = Path(shutil.copytree(tiny_bundle, tmp_path / "damaged"))
    (damaged / "approximator.onnx").write_bytes(b"\x08\x07 not the graph the manifest describes")
    hub.publish("org/damaged", damaged)
    assert_user_error(
        run_cli("sample", "-n", "2", str(out), "--model", "org/damaged", env=env),
        "org/damaged",
        "approximator.onnx does not match its checksum",
    )
    # A repo that is not an aaae bundle.
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "bert"}')
    hub.publish("org/other", other)
    assert_user_error(run_cli("sample", "-n", "2", str(out), "--model", "org/other", env=env), "org/other")
    assert not out.exists()


# ---------------------------------------------------------------- file names and symlinks


def test_bundle_files_cannot_leave_the_folder(bundle_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.onnx"
    shutil.copy2(bundle_copy / "encoder.onnx", outside)
    (bundle_copy / "encoder.onnx").unlink()
    # A symlink to a file outside, even one whose checksum matches, is refused.
    (bundle_copy / "encoder.onnx").symlink_to(outside)
    bundle = Bundle(bundle_copy)
    with pytest.raises(BundleError, match=r"encoder\.onnx is a symbolic link to outside the bundle folder"):
        bundle.read("encoder.onnx")
    result = run_cli("reconstruct", str(ASTRONAUT), "--model", str(bundle_copy), "-o", str(tmp_path / "r.png"))
    assert_user_error(result, "encoder.onnx is a symbolic link to outside")
    # A relative link that climbs out is refused the same way; one inside the folder is fine.
    (bundle_copy / "encoder.onnx").unlink()
    (bundle_copy / "encoder.onnx").symlink_to(Path("..") / "outside.onnx")
    with pytest.raises(BundleError, match="symbolic link to outside"):
        Bundle(bundle_copy).read("encoder.onnx")
    (bundle_copy / "encoder.onnx").unlink()
    shutil.move(outside, bundle_copy / "real-encoder.onnx")
    (bundle_copy / "encoder.onnx").symlink_to("real-encoder.onnx")
    assert Bundle(bundle_copy).read("encoder.onnx")
    # The manifest itself may not be a link out of the folder either.
    manifest_text = (bundle_copy / MANIFEST).read_text()
    (tmp_path / "m.sha256").write_text(manifest_text)
    (bundle_copy / MANIFEST).unlink()
    (bundle_copy / MANIFEST).symlink_to(tmp_path / "m.sha256")
    with pytest.raises(BundleError, match=r"checksums\.sha256 is a symbolic link to outside"):
        Bundle(bundle_copy)


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../config.json", "sub/../../x", "..", "C:\\x.onnx", "NUL", "con.onnx"]
)
def test_manifest_names_cannot_escape(bundle_copy: Path, name: str) -> None:
    manifest = bundle_copy / MANIFEST
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  {name}\n")
    with pytest.raises(BundleError, match="unsafe file name"):
        Bundle(bundle_copy)
    assert_user_error(run_cli("info", "--model", str(bundle_copy)), "unsafe file name")


# ---------------------------------------------------------------- push


def test_push_refuses_a_damaged_bundle_before_any_network(bundle_copy: Path, tmp_path: Path) -> None:
    (bundle_copy / "decoder.onnx").write_bytes(b"tampered")
    with socket.socket() as listener:  # a "Hub" that records whether anyone connected
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        env = {
            "HF_ENDPOINT": f"http://127.0.0.1:{listener.getsockname()[1]}",
            "HF_HOME": str(tmp_path / "hf"),
            "HF_TOKEN": TOKEN,
        }
        result = run_cli("push", str(bundle_copy), "org/digits", env=env)
        assert_user_error(result, "refusing to push", "decoder.onnx does not match its checksum")
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_push_errors_are_one_line(hub: OlahHub, tiny_bundle: Path, tmp_path: Path) -> None:
    env = hub.env(tmp_path)
    # No token anywhere: refused before any network.
    assert_user_error(run_cli("push", str(tiny_bundle), "org/digits", env=env), "not logged in", "hf auth login")
    assert_user_error(run_cli("push", str(tiny_bundle), "not a repo", "--token", TOKEN, env=env), "not a Hugging Face")
    assert_user_error(run_cli("push", str(tmp_path / "nothing"), "org/digits", "--token", TOKEN, env=env), "nothing")
    # olah serves downloads only: the attempt ends in one line naming the step and the HTTP status.
    for extra in ([], ["--revision", "v2", "--private", "--message", "try"]):
        result = run_cli("push", str(tiny_bundle), "org/digits", "--token", TOKEN, *extra, env=env)
        assert_user_error(result, "org/digits: creating the repo failed", hub.endpoint, "HTTP 405")
    # A Hub that cannot be reached.
    unreachable = {**env, "HF_ENDPOINT": f"http://127.0.0.1:{_free_port()}", "HF_TOKEN": TOKEN}
    assert_user_error(run_cli("push", str(tiny_bundle), "org/digits", env=unreachable), "cannot reach the Hub")


def test_push_http_statuses(tiny_bundle: Path) -> None:
    """401, 403 and 404 as the Hub client raises them, turned into one-line messages."""
    httpx = pytest.importorskip("httpx2" if _has("httpx2") else "httpx")
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    from aaae_cli.bundle.hub import _hub_call
    from aaae_cli.errors import UserError

    def response(status: int) -> object:
        return httpx.Response(status, request=httpx.Request("POST", "https://hub.example/api/repos/create"))

    for status, error, fragment in [
        (401, HfHubHTTPError, "rejected the token (HTTP 401)"),
        (403, HfHubHTTPError, "no permission to write to this repo (HTTP 403)"),
        (404, RepositoryNotFoundError, "refused (HTTP 404 Not Found)"),
    ]:
        with pytest.raises(UserError) as caught, _hub_call("org/x", "uploading", "https://hub.example"):
            raise error("denied", response=response(status))
        assert str(caught.value).startswith("org/x: uploading failed: ") and fragment in str(caught.value)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_push_uploads_one_commit_of_the_manifest_files(
    bundle_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What push_bundle asks of the real HfApi: repo and branch creation, then one upload_folder of exactly
    the manifest's files. The HfApi methods are replaced by recorders; nothing is uploaded."""
    from huggingface_hub import CommitInfo, HfApi, RepoUrl

    from aaae_cli.bundle.hub import push_bundle

    (bundle_copy / "notes.txt").write_text("not in the manifest: stays home")
    calls: list[tuple[str, dict]] = []
    uploaded: dict[str, bytes] = {}

    def create_repo(self: HfApi, repo_id: str, **kw: object) -> RepoUrl:
        calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def create_branch(self: HfApi, repo_id: str, **kw: object) -> None:
        calls.append(("create_branch", {"repo_id": repo_id, **kw}))

    def upload_folder(self: HfApi, **kw: object) -> CommitInfo:
        calls.append(("upload_folder", kw))
        folder = Path(str(kw["folder_path"]))
        uploaded.update({p.name: p.read_bytes() for p in folder.iterdir()})
        oid = "ab" * 20
        return CommitInfo(
            commit_url=f"https://huggingface.co/org/digits/commit/{oid}",
            commit_message=str(kw["commit_message"]),
            commit_description="",
            oid=oid,
        )

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_branch", create_branch)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    result = push_bundle(bundle_copy, "org/digits", private=True, revision="v2", token=TOKEN, message="hello")
    assert [name for name, _ in calls] == ["create_repo", "create_branch", "upload_folder"]
    assert calls[0][1]["private"] is True and calls[0][1]["exist_ok"] is True
    assert calls[1][1]["branch"] == "v2" and calls[1][1]["exist_ok"] is True
    upload = calls[2][1]
    assert upload["revision"] == "v2" and upload["commit_message"] == "hello"
    listed = sorted(read_manifest((bundle_copy / MANIFEST).read_text(), "m"))
    assert sorted(upload["allow_patterns"]) == sorted([*listed, MANIFEST]) == sorted(uploaded)
    assert "notes.txt" not in uploaded and "README.md" in uploaded
    # The card now points at the repo; the uploaded manifest matches the uploaded files; the local bundle is unchanged.
    assert "--model org/digits@v2 " in uploaded["README.md"].decode()
    assert "path/to/" not in uploaded["README.md"].decode()
    staged = tmp_path / "staged"
    staged.mkdir()
    for name, data in uploaded.items():
        (staged / name).write_bytes(data)
    assert Bundle(staged).verify_all()
    assert "path/to/digits" in (bundle_copy / "README.md").read_text()
    assert Bundle(bundle_copy).verify_all()
    assert (result.commit, result.revision, result.model_ref) == ("ab" * 20, "v2", f"org/digits@{'ab' * 20}")
    assert result.commit_url.endswith("ab" * 20)
    assert sha256_file(bundle_copy / "encoder.onnx") == sha256_file(staged / "encoder.onnx")


@pytest.mark.slow
def test_export_push_to_hub(hub: OlahHub, tiny_run: Path, tmp_path: Path) -> None:
    env = hub.env(tmp_path)
    out = tmp_path / "bundle"
    # Checked before the (slow) export: no token, a bad repo id.
    assert_user_error(
        run_cli("export", str(tiny_run), str(out), "--push-to-hub", "org/digits", env=env), "not logged in"
    )
    assert_user_error(
        run_cli("export", str(tiny_run), str(out), "--push-to-hub", "org", env={**env, "HF_TOKEN": TOKEN}),
        "not a Hugging Face Hub repo id",
    )
    assert not out.exists()
    # Export, then the push, which this server refuses: the bundle stays, the error is one line.
    result = run_cli("export", str(tiny_run), str(out), "--push-to-hub", "org/digits", env={**env, "HF_TOKEN": TOKEN})
    assert_user_error(result, "creating the repo failed", "HTTP 405")
    assert "exported" in result.stderr
    assert Bundle(out).verify_all()


def test_hub_module_stays_light() -> None:
    """Importing the push logic imports neither torch nor (until it runs) huggingface_hub."""
    code = "import sys, aaae_cli.bundle.hub; print('torch' in sys.modules, 'huggingface_hub' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_a_built_in_models_card_is_pointed_at_the_repo() -> None:
    """The shipped cards name the model by its built-in name; pushed, they must name the repo."""
    from aaae_cli.bundle.card import usage_reference
    from aaae_cli.bundle.hub import _point_card_at
    from aaae_models import ROOT

    card = (ROOT / "faces" / "README.md").read_bytes()
    assert b"--model faces " in card and b'aaae.load("faces")' in card
    config = json.loads((ROOT / "faces" / "config.json").read_text())
    pointed = _point_card_at(card, usage_reference(config), "me/faces").decode()
    assert "--model me/faces " in pointed and 'aaae.load("me/faces")' in pointed
    assert "--model faces " not in pointed and "path/to/" not in pointed


def _cached_revision(cache: Path, repo_id: str, revision: str, bundle: Path) -> str:
    """Put ``bundle`` into a Hugging Face cache as ``repo_id`` at the branch ``revision`` (the cache's own layout:
    ``refs/<revision>`` names a commit, ``snapshots/<commit>`` holds the files); returns the commit."""
    commit = "ab" * 20
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    ref = repo / "refs" / revision
    ref.parent.mkdir(parents=True)
    ref.write_text(commit)
    shutil.copytree(bundle, repo / "snapshots" / commit)
    return commit


def test_a_hub_revision_may_hold_a_slash(tmp_path: Path) -> None:
    """``user/name@feature/x`` and ``@refs/pr/1`` are Hub revisions, not folder paths (issue #23 item 16: both were
    "no such model folder"). Offline, from a cache: no server needed."""
    from aaae_models import ROOT

    cache = tmp_path / "hf" / "hub"
    commit = _cached_revision(cache, "org/digits", "feature/x", ROOT / "digits")
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "AAAE_MODEL_PATH": ""}
    result = run_cli("info", "--model", "org/digits@feature/x", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert commit in json.loads(result.stdout)["path"]
    assert_user_error(
        run_cli("info", "--model", "org/digits@refs/pr/1", env=env), "org/digits@refs/pr/1", "not in the local cache"
    )
    for escape in ("../../models--org--digits/refs/feature/x", "/etc"):  # a revision is read as a path in the cache
        assert_user_error(run_cli("info", "--model", f"org/digits@{escape}", env=env), "not a valid Hub revision")
    assert_user_error(run_cli("info", "--model", "a/b/c", env=env), "a/b/c: no such model folder")
