"""The blob store on S3: one private bucket, laid out as docs/data-model.md describes.

Every object carries a `retention` tag, which the bucket's lifecycle rules select on
(`temporary` when written, `saved` once its image is saved). Clients get presigned GETs.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import boto3
from botocore.config import Config

from imagegen.storage.blobs import TEMPORARY_RETENTION, content_type_for


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        ttl_seconds: int,
        client: Any | None = None,
        region_name: str | None = None,
    ) -> None:
        self._bucket = bucket
        self._ttl = ttl_seconds
        # No endpoint_url here: boto3 reads AWS_ENDPOINT_URL_S3 itself (moto, in tests).
        self._client = client or boto3.client("s3", region_name=region_name, config=_config())

    def put(self, key: str, data: bytes) -> None:
        # The Content-Type is stored with the object, so a presigned GET answers with it.
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=content_type_for(key),
            Tagging=f"retention={TEMPORARY_RETENTION}",
        )

    def set_retention(self, key: str, retention: str) -> None:
        # Retagging moves the object to the other lifecycle rule without copying it. The
        # object has no other tags (put writes only this one), so replacing the set is safe.
        # A key with no object has nothing to retain (as on disk).
        with contextlib.suppress(self._client.exceptions.NoSuchKey):
            self._client.put_object_tagging(
                Bucket=self._bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": "retention", "Value": retention}]},
            )

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except self._client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"no object {key!r}") from None
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def signed_url(self, key: str) -> str:
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._ttl
        )
        return url


def _config() -> Config:
    """Signature V4, which objects encrypted with KMS require (and regional endpoints).

    Addressing: virtual-hosted (bucket.s3.<region>.amazonaws.com), AWS's default and the
    only style for new features, unless an endpoint override is configured: an emulator
    such as moto on 127.0.0.1 or localhost has no per-bucket host names, so path style then.
    (botocore already picks path style for an IP endpoint; a name such as `localhost` would
    get `bucket.localhost`, which does not resolve.)
    """
    overridden = bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    ignored = os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true"
    style = "path" if overridden and not ignored else "virtual"
    return Config(signature_version="s3v4", s3={"addressing_style": style})
