"""A TLS-only PostgreSQL for the tests: a small front that terminates TLS with a test CA's certificate and forwards
to the embedded PostgreSQL (which has no TLS), as Aurora with rds.force_ssl=1 admits TLS only.

PostgreSQL's protocol starts in clear: the client sends an SSLRequest (8 bytes), the server answers `S` and the TLS
handshake follows on the same socket. This front answers `S` and hands the decrypted stream to the upstream server;
a plaintext StartupMessage gets PostgreSQL's own FATAL ErrorResponse (28000) and the connection closes. Every
connection is recorded (`sessions`): `tls <version>`, `handshake failed`, `plaintext refused`.

Also here: a throwaway CA and the server certificate it signs, made with `cryptography` in the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SSL_REQUEST_CODE = 80877103


@dataclass(frozen=True)
class TestCa:
    """A CA (its PEM certificate and key) for a test."""

    cert_pem: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def make_ca(name: str) -> TestCa:
    """A self-signed CA certificate, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(key, hashes.SHA256())
    )
    return TestCa(cert.public_bytes(serialization.Encoding.PEM).decode(), key, cert)


def issue_server_cert(ca: TestCa, host: str, folder: Path) -> tuple[Path, Path]:
    """A server certificate for `host` (a DNS name, or an IP address) signed by `ca`: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.crt", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _error_response(code: str, message: str) -> bytes:
    fields = b"".join(kind + value.encode() + b"\0" for kind, value in (
        (b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)
    )) + b"\0"  # fmt: skip
    return b"E" + struct.pack("!i", 4 + len(fields)) + fields


class TlsPostgres:
    """The front on 127.0.0.1:`port` (a free one), forwarding to 127.0.0.1:`upstream_port`; a context manager."""

    def __init__(self, upstream_port: int, cert_file: Path, key_file: Path) -> None:
        self.upstream_port = upstream_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        self.sessions: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TlsPostgres:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the TLS front did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            length, code = struct.unpack("!ii", await reader.readexactly(8))
            if length != 8 or code != SSL_REQUEST_CODE:
                self.sessions.append("plaintext refused")
                writer.write(_error_response("28000", "this server accepts TLS connections only"))
                await writer.drain()
                return
            writer.write(b"S")
            await writer.drain()
            try:
                await writer.start_tls(self.context)
            except (ssl.SSLError, OSError, ConnectionError):
                self.sessions.append("handshake failed")
                return
            tls = writer.get_extra_info("ssl_object")
            self.sessions.append(f"tls {tls.version() if tls else '?'}")
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            sink.close()
