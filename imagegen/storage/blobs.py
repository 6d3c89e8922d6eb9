"""The blob store interface and its on-disk implementation.

Keys are laid out as <tenant>/<kind>/<yyyy>/<mm>/<dd>/<image id>.<ext> so that storage
lifecycle rules can target a tenant or a kind. Clients never get a key: they get a signed,
expiring URL (here served by the API's files route; on S3 a presigned GET).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from imagegen.signing import UrlSigner

# An object's retention class, which storage lifecycle rules act on (docs/data-model.md).
TEMPORARY_RETENTION = "temporary"
SAVED_RETENTION = "saved"


# An object's content type follows from its key's extension (keys are always ours, named
# for their format): one rule for both stores and everything that serves their objects.
_CONTENT_TYPES = {".png": "image/png", ".jpeg": "image/jpeg", ".webp": "image/webp"}


def content_type_for(key: str) -> str:
    return _CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store the object (its content type: content_type_for(key)); it starts with
        temporary retention."""
        ...

    def set_retention(self, key: str, retention: str) -> None:
        """Move the object to another retention class (when its image is saved); a key
        with no object is left as it is."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when there is none under the key."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; a key with none is fine."""
        ...

    def signed_url(self, key: str) -> str: ...


def blob_key(tenant_id: str, kind: str, created_at: str, name: str) -> str:
    """created_at is our ISO timestamp; its date becomes the folder."""
    year, month, day = created_at[:10].split("-")
    return f"{tenant_id}/{kind}/{year}/{month}/{day}/{name}"


class DiskBlobStore:
    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self._root = root.resolve()
        self._signer = signer

    def path_of(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def set_retention(self, key: str, retention: str) -> None:
        # Nothing to record: locally the sweeper expires files by their image's record.
        pass

    def get(self, key: str) -> bytes:
        path = self.path_of(key)
        # A key names an object, never a folder: the folders of keys are not objects, as on S3.
        if path.is_dir():
            raise FileNotFoundError(f"no object {key!r}")
        return path.read_bytes()

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def signed_url(self, key: str) -> str:
        return self._signer.sign(key)
