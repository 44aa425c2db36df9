"""Image archives: an OCI image layout tar with docker's manifest.json beside it, which
``ctr images import`` and ``docker load`` both accept."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

from .common import (CREATED, EPOCH, MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER, MEDIA_MANIFEST, PATH_ENV, arch,
                     canonical, store)
from .layers import Layer, dir_entry
from .recipes import Recipe


def put_blob(data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    path = store() / "blobs" / "sha256" / digest
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return f"sha256:{digest}", len(data)


def image_config(recipe: Recipe, layers: list[Layer], inputs: str) -> dict:
    config = {"Env": [PATH_ENV] + [f"{k}={v}" for k, v in recipe.env.items() if k != "PATH"]}
    if "PATH" in recipe.env:
        config["Env"][0] = f"PATH={recipe.env['PATH']}"
    for key, value in (("Entrypoint", recipe.entrypoint), ("Cmd", recipe.cmd), ("User", recipe.user),
                       ("WorkingDir", recipe.workdir), ("StopSignal", recipe.stop_signal)):
        if value:
            config[key] = value
    if recipe.ports:
        config["ExposedPorts"] = {(p if "/" in p else f"{p}/tcp"): {} for p in recipe.ports}
    if recipe.volumes:
        config["Volumes"] = {v: {} for v in recipe.volumes}
    config["Labels"] = {"io.storekit.image.inputs": inputs, "io.storekit.image.recipe": recipe.name}
    return {
        "created": CREATED, "architecture": arch(), "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": f"storekit kind/images.py {recipe.kind} layer {i}"}
                    for i in range(len(layers))],
    }


def write_archive(path: Path, ref: str, layers: list[Layer], config: dict) -> str:
    """An OCI image layout tar, with docker's manifest.json beside it (docker load, ctr import)."""
    config_digest, config_size = put_blob(canonical(config))
    manifest = {
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": l.digest, "size": l.size} for l in layers],
    }
    manifest_digest, manifest_size = put_blob(canonical(manifest))
    tag = ref.rsplit(":", 1)[1]
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [{
        "mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": manifest_size,
        "platform": {"architecture": arch(), "os": "linux"},
        "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag}}]}
    docker_manifest = [{"Config": f"blobs/sha256/{config_digest[7:]}", "RepoTags": [ref],
                        "Layers": [f"blobs/sha256/{l.digest[7:]}" for l in layers]}]
    members = [("oci-layout", canonical({"imageLayoutVersion": "1.0.0"})), ("index.json", canonical(index)),
               ("manifest.json", canonical(docker_manifest))]
    blob_dir = store() / "blobs" / "sha256"
    partial = path.with_name(f".{path.name}.partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirname in ("blobs", "blobs/sha256"):
            tar.addfile(dir_entry(dirname, 0o755, 0, 0))
        digests = sorted({config_digest, manifest_digest, *(l.digest for l in layers)})
        for digest in digests:
            blob = blob_dir / digest[7:]
            info = tarfile.TarInfo(f"blobs/sha256/{digest[7:]}")
            info.size, info.mode, info.mtime = blob.stat().st_size, 0o644, EPOCH
            with open(blob, "rb") as f:
                tar.addfile(info, f)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, path)
    return manifest_digest
