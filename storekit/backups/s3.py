"""A small S3 client: the five calls backups need, signed with AWS Signature Version 4.

Standard library only (http.client, hmac, hashlib, xml.etree), path-style addressing
(``ENDPOINT/bucket/key``), so it works with AWS, MinIO, versitygw and other S3-compatible
servers alike. Bodies stream from and to files; every payload is signed with its real SHA-256
(the caller has computed it already). The secret key is used only to derive the signing key:
it is never in a message, an exception or a header.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CHUNK = 1 << 20


class S3Error(Exception):
    """An S3 error response (``code`` is S3's, e.g. NoSuchBucket) or a transport failure
    (``code`` is ``Unreachable``)."""

    def __init__(self, code: str, message: str, status: int = 0):
        super().__init__(f"{code}: {message}" if message else code)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class S3Credentials:
    access_key: str
    secret_key: str = ""
    region: str = "us-east-1"

    def __repr__(self) -> str:  # never the secret, even in a traceback's locals
        return f"S3Credentials(access_key={self.access_key!r}, region={self.region!r})"


def _quote(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text, safe=safe)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(method: str, host: str, path: str, query: dict[str, str], payload_sha256: str,
         creds: S3Credentials, *, now: datetime | None = None) -> dict[str, str]:
    """The headers that sign one request (SigV4: canonical request, string to sign, derived key)."""
    now = now or datetime.now(timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": stamp}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([
        method, path,
        "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(query.items())),
        "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
        signed, payload_sha256])
    scope = f"{day}/{creds.region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + creds.secret_key).encode(), day)
    for part in (creds.region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
                                f"SignedHeaders={signed}, Signature={signature}")
    return headers


class S3Client:
    def __init__(self, endpoint: str, creds: S3Credentials, *, timeout: float = 60):
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the S3 endpoint must be an http(s):// URL, got {endpoint!r}")
        self.endpoint, self.creds, self.timeout = endpoint.rstrip("/"), creds, timeout
        self.scheme, self.netloc = parts.scheme, parts.netloc
        self.base = parts.path.rstrip("/")

    def _connection(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.netloc, timeout=self.timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.netloc, timeout=self.timeout)

    def _request(self, method: str, bucket: str, key: str = "", *, query: dict[str, str] | None = None,
                 body: BinaryIO | None = None, size: int = 0, sha256: str = EMPTY_SHA256,
                 sink: BinaryIO | None = None) -> tuple[int, bytes]:
        """One signed request; returns (status, body) or streams a 2xx body into ``sink``."""
        query = query or {}
        path = _quote(f"{self.base}/{bucket}" + (f"/{key}" if key else ""), safe="/-_.~")
        headers = sign(method, self.netloc, path, query, sha256, self.creds)
        if body is not None:
            headers["content-length"] = str(size)
        target = path + ("?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(query.items()))
                         if query else "")
        conn = self._connection()
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            if sink is not None and 200 <= response.status < 300:
                while chunk := response.read(CHUNK):
                    sink.write(chunk)
                return response.status, b""
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            raise S3Error("Unreachable", f"{self.endpoint} does not answer ({e})") from e
        finally:
            conn.close()
        if response.status >= 300:
            raise _error(response.status, data)
        return response.status, data

    def head_bucket(self, bucket: str) -> None:
        try:
            self._request("HEAD", bucket)
        except S3Error as e:
            # A HEAD error has no body: say what its status means.
            if e.code.startswith("HTTP "):
                code = {404: "NoSuchBucket", 403: "AccessDenied", 301: "PermanentRedirect"}.get(e.status, e.code)
                raise S3Error(code, "", e.status) from None
            raise

    def create_bucket(self, bucket: str) -> None:
        self._request("PUT", bucket)

    def put(self, bucket: str, key: str, stream: BinaryIO, size: int, sha256: str) -> None:
        self._request("PUT", bucket, key, body=stream, size=size, sha256=sha256)

    def get(self, bucket: str, key: str, sink: BinaryIO) -> None:
        self._request("GET", bucket, key, sink=sink)

    def delete(self, bucket: str, key: str) -> None:
        self._request("DELETE", bucket, key)

    def list(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """Every (key, size) under ``prefix`` (ListObjectsV2, page by page)."""
        out, token = [], None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            _, data = self._request("GET", bucket, query=query)
            root = ET.fromstring(data)
            ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            for item in root.iter(f"{ns}Contents"):
                out.append((item.findtext(f"{ns}Key") or "", int(item.findtext(f"{ns}Size") or 0)))
            if (root.findtext(f"{ns}IsTruncated") or "").lower() != "true":
                return out
            token = root.findtext(f"{ns}NextContinuationToken")
            if not token:
                return out


def _error(status: int, data: bytes) -> S3Error:
    try:
        root = ET.fromstring(data)
        return S3Error(root.findtext("Code") or f"HTTP {status}", root.findtext("Message") or "", status)
    except ET.ParseError:
        return S3Error(f"HTTP {status}", data[:200].decode(errors="replace").strip(), status)
