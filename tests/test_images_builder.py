"""kind/images.py, the image builder, without Debian or a container runtime (unit tier).

Covers what the node and the store images rely on: recipes are checked with one-line errors
naming the field; layers are deterministic (same tree, same digest; mtimes fixed; numeric
owners kept; device nodes left out); a binary image (our pause, compiled static with gcc)
becomes an OCI layout archive that also carries docker's manifest.json, with the reference
storekit.local/<name>:<tag> in index.json; and a second build of unchanged inputs does
nothing. Importing and running the archives is proven by tests/test_store_images.py
(docker load) and on the real node (ctr import).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def images(tmp_path, monkeypatch):
    """The builder module with its own STOREKIT_HOME and recipe folder."""
    spec = importlib.util.spec_from_file_location("storekit_images_builder", ROOT / "kind" / "images.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setenv("STOREKIT_HOME", str(tmp_path / "home"))
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    monkeypatch.setenv("STOREKIT_IMAGE_RECIPES", str(recipes))
    (tmp_path / "home" / "images" / "tmp").mkdir(parents=True)
    return module


def _recipe(images, name: str, text: str, **files: str) -> Path:
    folder = images.recipes_dir() / name
    folder.mkdir()
    (folder / "image.yaml").write_text(text)
    for filename, content in files.items():
        (folder / filename).write_text(content)
    return folder


@pytest.mark.parametrize("text, message", [
    ("kind: alpine\n", "kind must be 'debian' or 'binary', got 'alpine'"),
    ("kind: debian\nsuite: buster\npackages: [x]\n", "suite must be one of bookworm, trixie, got 'buster'"),
    ("kind: debian\n", "packages must list at least one Debian package"),
    ("kind: binary\nentrypont: [/x]\n", "unknown field 'entrypont'"),
    ("kind: binary\nfiles:\n  - {src: a, dest: relative}\n", "files[0].dest must be an absolute path"),
    ("kind: binary\nfiles:\n  - {src: missing.c, dest: /x}\n", "files[0].src: no file kind/images/bad/missing.c"),
    ("kind: binary\nfiles:\n  - {src: a, cc: a, dest: /x}\n", "files[0]: give exactly one of src, cc, tool"),
    ("kind: binary\nfiles:\n  - {tool: x, dest: /x, owner: www}\n", "files[0].owner must be numeric 'UID:GID'"),
    ("kind: [\n", "not valid YAML"),
])
def test_recipe_errors_name_the_field_and_the_rule(images, text, message):
    _recipe(images, "bad", text)
    with pytest.raises(images.ImageError) as err:
        images.load_recipe("bad")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_recipe_lists_the_known_ones(images):
    _recipe(images, "known", "kind: binary\n")
    with pytest.raises(images.ImageError, match=r"no recipe 'nope' .*known: known"):
        images.load_recipe("nope")


def test_layers_are_deterministic_and_keep_numeric_owners(images, tmp_path):
    tree = tmp_path / "tree"
    (tree / "b" / "c").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "b" / "c" / "run.sh").write_text("#!/bin/sh\n")
    (tree / "b" / "c" / "run.sh").chmod(0o755)
    os.link(tree / "a.txt", tree / "b" / "hard.txt")
    (tree / "link").symlink_to("a.txt")
    os.chown(tree / "b" / "c", 33, 33)
    os.mkfifo(tree / "fifo")
    if os.geteuid() == 0:
        os.mknod(tree / "null", 0o666 | 0o020000, os.makedev(1, 3))
    first = images.write_layer(tree)
    os.utime(tree / "a.txt", (0, 0))  # mtimes do not matter
    second = images.write_layer(tree)
    assert first == second
    blob = images.store() / "blobs" / "sha256" / first.digest[7:]
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == first.digest[7:]
    plain = gzip.decompress(blob.read_bytes())
    assert f"sha256:{hashlib.sha256(plain).hexdigest()}" == first.diff_id and len(plain) == first.unpacked
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == ["a.txt", "b", "b/c", "b/c/run.sh", "b/hard.txt", "link"]
    assert members["b/c"].uid == 33 and members["b/c"].gid == 33 and members["b/c"].uname == ""
    assert members["b/c/run.sh"].mode == 0o755
    assert members["b/hard.txt"].islnk() and members["link"].issym()
    assert {m.mtime for m in members.values()} == {images.EPOCH}


@pytest.mark.gcc
@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc (Debian's) compiles the pause program")
def test_binary_image_archive_for_ctr_and_docker_and_a_free_rebuild(images):
    _recipe(images, "pause", (ROOT / "kind/images/pause/image.yaml").read_text(),
            **{"pause.c": (ROOT / "kind/images/pause/pause.c").read_text()})
    assert images.main(["build", "pause"]) == 0
    index = json.loads((images.store() / "index.json").read_text())
    ref = index["pause"]
    assert ref.startswith("storekit.local/pause:1.0-")
    entry = json.loads((images.store() / "builds.json").read_text())["pause"]
    archive = Path(entry["archive"])
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        layout = json.load(tar.extractfile("index.json"))
        docker = json.load(tar.extractfile("manifest.json"))
        manifest = json.load(tar.extractfile(f"blobs/sha256/{layout['manifests'][0]['digest'][7:]}"))
        config = json.load(tar.extractfile(f"blobs/sha256/{manifest['config']['digest'][7:]}"))
        layer = tar.extractfile(f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}").read()
    assert "oci-layout" in names
    assert layout["manifests"][0]["annotations"]["io.containerd.image.name"] == ref
    assert layout["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == ref.rsplit(":", 1)[1]
    assert docker == [{"Config": f"blobs/sha256/{manifest['config']['digest'][7:]}", "RepoTags": [ref],
                       "Layers": [f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}"]}]
    assert config["config"]["Entrypoint"] == ["/pause"] and config["config"]["User"] == "65535:65535"
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(gzip.decompress(layer)).hexdigest()}"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        [pause] = tar.getmembers()
        assert pause.name == "pause" and pause.mode == 0o755
        assert tar.extractfile(pause).read()[:4] == b"\x7fELF"

    stamp = archive.stat().st_mtime_ns
    result = images.build_one("pause")
    assert result["cached"] and archive.stat().st_mtime_ns == stamp, "unchanged inputs: nothing rebuilt"
    (images.recipes_dir() / "pause" / "pause.c").write_text((ROOT / "kind/images/pause/pause.c").read_text() + "\n")
    changed = images.build_one("pause")
    assert not changed["cached"] and changed["ref"] != ref and not archive.exists(), "new inputs, new tag"


def test_missing_tool_binaries_are_skipped_only_when_building_everything(images, capsys):
    _recipe(images, "coredns", "kind: binary\nfiles:\n  - {tool: coredns, dest: /coredns}\n")
    assert images.main(["build"]) == 0
    assert "skipped coredns:" in capsys.readouterr().err
    assert images.main(["build", "coredns"]) == 1
    assert "kind/tools.sh builds it" in capsys.readouterr().err
