"""Reading request bodies whole, or not at all: every receiver reads through here.

A body is bounded while it is read (``Content-Length`` first, then the bytes themselves,
then the inflated size), so neither a large upload nor a gzip bomb is held in memory.
Compressed bodies are inflated completely (every gzip member, as ``cat a.gz b.gz`` makes)
and a stream that ends early is refused: a truncated body never yields part of a batch.
"""

from __future__ import annotations

import zlib

from config.api_errors import ApiError

_READ_SIZE = 64 * 1024
MAX_GZIP_MEMBERS = 1000  # `cat a.gz b.gz` makes a few; thousands are an attack, not a gateway


def media_type(request) -> str:
    """The body's media type, lowercased, without its parameters. A ``charset`` other than
    UTF-8 is a 415: JSON travels as UTF-8 (RFC 8259), and a body read in another charset
    than its sender wrote would store other names than it sent."""
    kind, _, parameters = request.META.get("CONTENT_TYPE", "").partition(";")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise ApiError(415, "unsupported_charset", "The charset must be utf-8.", "Content-Type")
    return kind.strip().lower()


def read_body(request, limit: int) -> bytes:
    """The request's body, inflated when ``Content-Encoding: gzip``, at most ``limit`` bytes
    before and after inflating; an :class:`ApiError` (400, 411, 413, 415) otherwise."""
    raw = _read_raw(request, limit)
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise ApiError(415, "unsupported_encoding", "Content-Encoding must be gzip or identity.")
    return gunzip(raw, limit)


def _read_raw(request, limit: int) -> bytes:
    meta = request.META
    length = (meta.get("CONTENT_LENGTH") or "").strip()
    if length:
        if not length.isdigit():
            raise ApiError(400, "bad_content_length", "Content-Length must be a number.")
        if int(length) > limit:
            raise ApiError(413, "too_large", f"Body over {limit:,} bytes.")
        raw = _read(request.read, limit + 1)
        if len(raw) < int(length):
            raise ApiError(400, "incomplete_body", f"Body ended after {len(raw):,} of {int(length):,} bytes.")
    elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django reads nothing without a Content-Length; the server has de-chunked the
        # stream and says so with wsgi.input_terminated (gunicorn does), so read it to its end.
        if not meta.get("wsgi.input_terminated"):
            raise ApiError(411, "length_required", "Send a Content-Length with the body.")
        raw = _read_to_end(meta["wsgi.input"], limit)
    else:
        raw = b""
    if len(raw) > limit:
        raise ApiError(413, "too_large", f"Body over {limit:,} bytes.")
    return raw


def _read(read, size: int) -> bytes:
    """``read(size)``, where whatever the server raises for a body it cannot read (a chunk
    size that is not a number, a missing terminator, a client gone mid-body: gunicorn's
    ParseException family, OSError elsewhere) is the client's error, not ours."""
    try:
        return read(size)
    except Exception as exc:  # the server's own exception classes vary
        raise ApiError(
            400, "unreadable_body", f"The body could not be read: {exc.__class__.__name__}."
        ) from exc


def _read_to_end(stream, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = _read(stream.read, min(_READ_SIZE, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def gunzip(raw: bytes, limit: int) -> bytes:
    """Inflate every member of a gzip body, refusing a truncated or corrupt stream (400) and
    stopping a bomb at ``limit`` + 1 inflated bytes (413). Input is fed in bounded pieces,
    so the leftover copied at each member's end stays small, and the number of members is
    capped: thousands of empty members cost CPU and carry nothing."""
    out = bytearray()
    view = memoryview(raw)
    position = 0
    for member in range(MAX_GZIP_MEMBERS):
        start = position
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not inflater.eof:
            if position >= len(raw):
                raise ApiError(400, "bad_gzip", "Body is not valid gzip: the stream ends early (truncated).")
            piece = view[position : position + _READ_SIZE]
            position += len(piece)
            try:
                # max_length stops a bomb after limit + 1 bytes instead of inflating it whole.
                out += inflater.decompress(piece, limit + 1 - len(out))
            except zlib.error as exc:
                # zlib's own words ("Error -3 while decompressing data: ...") mean little to a sender.
                if "header" not in str(exc) or position - start > _READ_SIZE:
                    where = "it is corrupt"
                elif member == 0:
                    where = "its first bytes are no gzip header"
                else:
                    where = f"the {start:,} bytes of gzip data are followed by bytes that are not gzip"
                raise ApiError(
                    400,
                    "bad_gzip",
                    f"Body is not valid gzip: {where} (Content-Encoding: gzip needs a gzip body).",
                ) from exc
            if len(out) > limit or inflater.unconsumed_tail:
                raise ApiError(413, "too_large", f"Decompressed body over {limit:,} bytes.")
        position -= len(inflater.unused_data)  # the next member's bytes, read ahead
        if position == len(raw) or (raw[position] == 0 and not view[position:].tobytes().strip(b"\0")):
            return bytes(out)  # the end, or the zero padding some writers add
    raise ApiError(400, "bad_gzip", f"Body has more than {MAX_GZIP_MEMBERS:,} gzip members.")
