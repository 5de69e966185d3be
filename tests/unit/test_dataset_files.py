import hashlib
import os
import threading
from pathlib import Path

import pytest

from trainyard import dataset_files
from trainyard.dataset_files import file_sha256, hash_in_background, read_table, resolve_dataset_path
from trainyard.errors import DatasetError, DatasetNotAllowedError


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "data", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "ok.csv").write_text("a,b\n1,2\n")
    (outside / "secret.csv").write_text("a,b\n1,2\n")
    return root, outside


def test_relative_path_resolves_inside_root(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    assert resolve_dataset_path("ok.csv", [root], 10_000) == (root / "ok.csv").resolve()


@pytest.mark.parametrize("requested", ["../outside/secret.csv", "sub/../../outside/secret.csv"])
def test_traversal_is_refused(roots: tuple[Path, Path], requested: str) -> None:
    with pytest.raises(DatasetNotAllowedError, match="outside the allowed data roots"):
        resolve_dataset_path(requested, [roots[0]], 10_000)


def test_absolute_path_outside_is_refused(roots: tuple[Path, Path]) -> None:
    root, outside = roots
    with pytest.raises(DatasetNotAllowedError):
        resolve_dataset_path(str(outside / "secret.csv"), [root], 10_000)
    assert resolve_dataset_path(str(root / "ok.csv"), [root], 10_000).name == "ok.csv"


def test_symlink_out_of_root_is_refused(roots: tuple[Path, Path]) -> None:
    root, outside = roots
    os.symlink(outside / "secret.csv", root / "link.csv")
    with pytest.raises(DatasetNotAllowedError):
        resolve_dataset_path("link.csv", [root], 10_000)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("missing.csv", None, "not found"), ("x.txt", "a\n1\n", ".csv or .parquet"), ("empty.csv", "", "empty file"),
     ("big.csv", "a\n" + "1\n" * 100, "over the 50-byte limit")],
)  # fmt: skip
def test_bad_files_get_clear_errors(roots: tuple[Path, Path], name: str, content: str | None, message: str) -> None:
    root, _ = roots
    if content is not None:
        (root / name).write_text(content)
    with pytest.raises(DatasetError, match=message):
        resolve_dataset_path(name, [root], 50)


def test_nul_byte_is_refused(roots: tuple[Path, Path]) -> None:
    with pytest.raises(DatasetError, match="NUL"):
        resolve_dataset_path("ok\x00.csv", [roots[0]], 10_000)


def test_wrong_encoding_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,value\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not valid UTF-8"):
        read_table(path)


def test_binary_parquet_garbage_is_a_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.parquet"
    path.write_bytes(os.urandom(256))
    with pytest.raises(DatasetError, match="could not be parsed"):
        read_table(path)


def test_sha256_follows_content(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a\n1\n")
    first = file_sha256(path)
    path.write_text("a\n2\n")
    os.utime(path, ns=(1, 1))  # force a different mtime even on coarse clocks
    assert file_sha256(path) != first


def test_a_background_hash_is_shared_not_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(os.urandom(8 << 20))
    computed = []
    real = dataset_files._compute

    def counted(key: tuple[str, int, int], future: object) -> None:
        computed.append(key)
        real(key, future)  # type: ignore[arg-type]

    monkeypatch.setattr(dataset_files, "_compute", counted)
    hash_in_background(path)  # as a run does at its start; the load step's cache key then asks for it
    digests: list[str] = []
    askers = [threading.Thread(target=lambda: digests.append(file_sha256(path))) for _ in range(4)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert digests == [hashlib.sha256(path.read_bytes()).hexdigest()] * 4
    assert len(computed) == 1


def test_a_hash_that_failed_is_tried_again_and_a_missing_file_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.csv"
    hash_in_background(path)  # no file yet: nothing starts, and no error here (the load step reports it)
    path.write_text("a\n1\n")
    real, failures = hashlib.sha256, [OSError("disk hiccup")]

    def flaky() -> "hashlib._Hash":
        if failures:
            raise failures.pop()
        return real()

    monkeypatch.setattr(dataset_files.hashlib, "sha256", flaky)
    with pytest.raises(OSError, match="disk hiccup"):
        file_sha256(path)
    assert file_sha256(path) == real(b"a\n1\n").hexdigest()  # the same file, asked again: computed again


def test_name_too_long_is_a_dataset_error_not_a_crash(roots: tuple[Path, Path]) -> None:
    with pytest.raises(DatasetError, match="cannot be opened"):
        resolve_dataset_path("x" * 5000 + ".csv", roots, 10**9)
