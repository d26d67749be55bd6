"""Reading TFRecord files without TensorFlow: plain or GZIP, local or on any Beam filesystem.

A TFRecord file is a sequence of frames: uint64 length (little endian), the masked crc32c
of those 8 bytes, the data, the masked crc32c of the data. Every frame that is read is
checked (both checksums, no truncation): a corrupt file raises RecordError. Files are read
in chunks (never loaded whole), so memory stays flat in the size of the file.

Plain files can be read in byte ranges, so that one file makes several work units: the
records of range [start, end) are those whose frames *start* in it. A reader of a range
that does not start at 0 finds its first frame by scanning for a position whose length and
data checksums both hold (two independent 32-bit checks) for a chain of frames. Bytes
inside a record can still be TFRecord frames (a bytes feature that holds a serialized
TFRecord file), and a scan can sync onto them. Each range reports the offsets where its
records began and ended (`Span`); `resolve` walks a file's ranges in offset order from 0,
where each range that began on a true record boundary ends on one, and has every range that
began elsewhere (or failed) read again from that boundary without scanning (`read_range`'s
`at`); `check_spans` then proves that the ranges tile the file. A valid file is therefore
never refused, and a file read whole (`read_interleaved`, or one range from 0) never scans.
GZIP files cannot be entered mid-stream: they are split by taking every n-th batch of
records instead.

A frame's claimed length is compared with what remains of the file (plain files: their
size; GZIP streams, size unknown: less than 2 GiB, a protobuf's limit) before its data is
read, and streams are read in chunks of at most 16 MiB, so a corrupt length never allocates
more than the data that exists.

Local paths are read with `open`; other paths (gs://, s3://, hdfs://...) with
apache_beam's FileSystems. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import struct
import sys
import zlib
from typing import BinaryIO, Callable, Iterator, Sequence

import google_crc32c
import numpy as np

_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")
_CHUNK = 1 << 20
_READ_MAX = 16 << 20   # largest single read: a read of n bytes allocates n bytes up front
_MAX_UNSIZED = 1 << 31  # a record in a stream of unknown size is a protobuf: < 2 GiB
_SCAN = 4096           # bytes scanned per step when looking for a frame
LOOKAHEAD_FRAMES = 16  # a frame found by scanning must be followed by valid frames...
LOOKAHEAD_BYTES = 1 << 20  # ...this many, or for this many bytes, or to the end of the file
_MASK_DELTA = 0xA282EAD8
_crc = google_crc32c.value


class RecordError(ValueError):
    """A frame fails its checks: bad checksum, truncated, or not TFRecord framing."""


def masked_crc(data) -> int:
    crc = _crc(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def is_gzip(path: str) -> bool:
    """The project's rule: a '.gz' name means GZIP, anything else plain TFRecords."""
    return path.endswith(".gz")


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local(path: str) -> str:
    return path.removeprefix("file://")


def open_raw(path: str) -> BinaryIO:
    """The file's bytes as stored (no decompression), seekable."""
    if _is_local(path):
        return open(_local(path), "rb")
    from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=g-import-not-at-top
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def size_of(path: str) -> int:
    if _is_local(path):
        return os.path.getsize(_local(path))
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


def _size(raw, path: str) -> int:
    """The size of an open plain file (local: from its descriptor, no second look-up)."""
    return os.fstat(raw.fileno()).st_size if _is_local(path) else size_of(path)


def read_bytes(path: str) -> bytes:
    with open_raw(path) as f:
        return f.read()


@dataclasses.dataclass(frozen=True)
class Span:
    """What one byte-range reader covered: the offset of its first record (None: no record
    starts in its range), the offset just past its last record, the records it read, and
    `error`, set instead when reading or scoring the range failed."""
    start: int
    end: int
    first: int | None
    next: int | None
    records: int
    error: str | None = None


class _Buffer:
    """A window over a stream: data[pos:] are the unread bytes at file offset `offset(pos)`.
    `size`: the file's size (plain files), None for a stream of unknown size (GZIP)."""

    def __init__(self, stream, base: int, size: int | None = None) -> None:
        self._stream = stream
        self.data = b""
        self.pos = 0
        self._base = base          # file offset of data[0]
        self.size = size
        self.eof = False

    def offset(self, pos: int) -> int:
        return self._base + pos

    def fill(self, need: int) -> bool:
        """Makes data[pos:pos+need] available; False if the stream ends first. Reads at most
        _READ_MAX bytes at a time, so asking for more than exists costs only what exists."""
        missing = need - (len(self.data) - self.pos)
        if missing <= 0:
            return True
        parts = [self.data[self.pos:]]
        while missing > 0 and not self.eof:
            chunk = self._stream.read(min(max(_CHUNK, missing), _READ_MAX))
            if not chunk:
                self.eof = True
                break
            parts.append(chunk)
            missing -= len(chunk)
        self._base += self.pos
        self.data, self.pos = b"".join(parts), 0
        return missing <= 0

    def check_length(self, pos: int, length: int) -> None:
        """Raises RecordError unless the frame at data[pos] claiming `length` bytes of data can
        fit in what remains of the file (before any of it is read)."""
        at = self.offset(pos)
        if self.size is not None and at + 16 + length > self.size:
            raise RecordError(f"truncated or corrupt record at offset {at}: its header claims {length} bytes "
                              f"of data but only {self.size - at} bytes remain in the file (a frame adds 16)")
        if self.size is None and length >= _MAX_UNSIZED:
            raise RecordError(f"corrupt record at offset {at} of the decompressed stream: its header claims "
                              f"{length} bytes of data, more than a record can hold (< 2 GiB)")


def _frames(buf: _Buffer, limit: int | None, count: int | None = None, verify: bool = True) -> list:
    """Up to `count` records (all if None) from buf.pos on, while their frame starts before
    file offset `limit`. With verify=False the data is neither checked nor copied (each
    record is None): for records that another reader owns and checks."""
    out: list = []
    unpack, u32, crc, delta = _HEADER.unpack_from, _U32.unpack_from, _crc, _MASK_DELTA
    append, count = out.append, sys.maxsize if count is None else count
    data, pos, n = buf.data, buf.pos, len(buf.data)
    stop_at = sys.maxsize if limit is None else limit - buf.offset(0)   # limit as an index in data
    while count:
        if pos >= stop_at:
            break
        if n - pos < 12:
            buf.pos = pos
            if not buf.fill(12):
                if len(buf.data) - buf.pos:
                    raise RecordError(f"truncated record header at offset {buf.offset(buf.pos)}")
                break
            data, pos, n = buf.data, buf.pos, len(buf.data)
            stop_at = sys.maxsize if limit is None else limit - buf.offset(0)
        length, length_crc = unpack(data, pos)
        c = crc(data[pos:pos + 8])
        if (((c >> 15) | (c << 17)) + delta) & 0xFFFFFFFF != length_crc:
            raise RecordError(f"corrupted record length at offset {buf.offset(pos)}")
        stop = pos + 12 + length
        if stop + 4 > n:
            buf.pos = pos
            buf.check_length(pos, length)
            if not buf.fill(16 + length):
                raise RecordError(f"truncated record at offset {buf.offset(buf.pos)}: its header claims "
                                  f"{length} bytes of data but only {len(buf.data) - buf.pos - 12} remain")
            data, pos, n = buf.data, buf.pos, len(buf.data)
            stop_at = sys.maxsize if limit is None else limit - buf.offset(0)
            stop = pos + 12 + length
        if verify:
            record = data[pos + 12:stop]
            c = crc(record)
            if (((c >> 15) | (c << 17)) + delta) & 0xFFFFFFFF != u32(data, stop)[0]:
                raise RecordError(f"corrupted record data at offset {buf.offset(pos)}")
            append(record)
        else:
            append(None)
        pos = stop + 4
        count -= 1
    buf.pos = pos
    return out


def _batches(buf: _Buffer, limit: int | None, batch_size: int) -> Iterator[list[bytes]]:
    while batch := _frames(buf, limit, batch_size):
        yield batch


def _sync(buf: _Buffer, end: int) -> bool:
    """Advances buf to the first position before file offset `end` where a chain of frames with
    valid length and data checksums starts (see _chain_holds); False if there is none."""
    size = buf.size
    while buf.offset(buf.pos) < end:
        if not buf.fill(12):
            return False
        window = np.frombuffer(buf.data, dtype=np.uint8)[buf.pos:buf.pos + _SCAN + 11]
        span = min(len(window) - 11, end - buf.offset(buf.pos))
        if span <= 0:
            return False
        # A record is a protobuf (< 2 GiB): the 4 high bytes of its length are zero.
        high = window[4:4 + span] | window[5:5 + span] | window[6:6 + span] | window[7:7 + span]
        for i in np.flatnonzero(high == 0).tolist():
            pos = buf.pos + i
            length, length_crc = _HEADER.unpack_from(buf.data, pos)
            if masked_crc(buf.data[pos:pos + 8]) != length_crc or buf.offset(pos) + 16 + length > size:
                continue
            buf.pos = pos   # fill() keeps the candidate at buf.pos, wherever the buffer moves
            if _chain_holds(buf):
                return True
            buf.pos += 1    # not a frame: scan on from the next byte
            break
        else:
            buf.pos += span
    return False


def _chain_holds(buf: _Buffer) -> bool:
    """Whether the frames from buf.pos on hold (both checksums) for LOOKAHEAD_FRAMES frames or
    LOOKAHEAD_BYTES bytes, or exactly up to the end of the file. Random bytes pass one frame's
    checks with probability 2^-64; bytes that embed TFRecord frames (a record holding a
    TFRecord file) pass when the embedded chain is long enough: `resolve` catches those.
    Each length is compared with the file's size before its data is read."""
    walked, frames, base, size = 0, 0, buf.offset(buf.pos), buf.size
    while frames < LOOKAHEAD_FRAMES and walked < LOOKAHEAD_BYTES:
        if base + walked == size:
            return True
        if not buf.fill(walked + 12):
            return False
        pos = buf.pos + walked
        length, length_crc = _HEADER.unpack_from(buf.data, pos)
        if masked_crc(buf.data[pos:pos + 8]) != length_crc or base + walked + 16 + length > size:
            return False
        if not buf.fill(walked + 16 + length):
            return False
        pos = buf.pos + walked
        if masked_crc(buf.data[pos + 12:pos + 12 + length]) != _U32.unpack_from(buf.data, pos + 12 + length)[0]:
            return False
        walked, frames = walked + 16 + length, frames + 1
    return True


class _Stream:
    """Decompressed bytes of a GZIP stream (multi-member files included)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._file = gzip.GzipFile(fileobj=raw, mode="rb")

    def read(self, n: int) -> bytes:
        try:
            return self._file.read(n)
        except (OSError, EOFError, zlib.error) as error:   # BadGzipFile is an OSError
            raise RecordError(f"not a valid GZIP stream: {error}") from error


def read_range(path: str, start: int, end: int, batch_size: int, spans: list | None = None,
               size: int | None = None, at: int | None = None) -> Iterator[list[bytes]]:
    """Batches of the records of a plain file whose frames start in [start, end). If `spans`
    is a list, the range's Span is appended to it once the range is read. `size`: the file's
    size if known (else it is looked up). `at`: a known record boundary (where the previous
    range's records ended, see resolve): read from there without scanning; nothing if at >= end."""
    if is_gzip(path):
        raise ValueError(f"{path!r}: GZIP files cannot be read by byte range")
    if size is None:
        size = size_of(path)
    origin = start if at is None else at
    with open_raw(path) as raw:
        if origin:
            raw.seek(origin)
        buf = _Buffer(raw, origin, size)
        found = (origin == 0 or _sync(buf, end)) if at is None else at < end
        first = buf.offset(buf.pos) if found else None
        count = 0
        if found:
            for batch in _batches(buf, end, batch_size):
                count += len(batch)
                yield batch
    if spans is not None:
        spans.append(Span(start, end, first, buf.offset(buf.pos) if found else None, count))


def read_interleaved(path: str, shard: int, num_shards: int, batch_size: int, by_batch: bool = False
                     ) -> Iterator[list[bytes]]:
    """Batches of a whole file, plain or GZIP: every num_shards-th record from `shard` on (or,
    by_batch, every num_shards-th batch of batch_size records). Records that another shard
    owns are framed and length-checked but not copied (their owner checks their data)."""
    with open_raw(path) as raw:
        buf = _Buffer(_Stream(raw), 0) if is_gzip(path) else _Buffer(raw, 0, _size(raw, path))
        if num_shards == 1:
            yield from _batches(buf, None, batch_size)
        elif by_batch:
            index = 0
            while True:
                mine = index % num_shards == shard
                batch = _frames(buf, None, batch_size, verify=mine)
                if not batch:
                    break
                index += 1
                if mine:
                    yield batch
        else:
            pending: list[bytes] = []
            while records := _frames(buf, None, batch_size * num_shards):
                pending.extend(records[shard::num_shards])
                while len(pending) >= batch_size:
                    yield pending[:batch_size]
                    pending = pending[batch_size:]
            if pending:
                yield pending


def resolve(spans: Sequence[Span], reread: Callable[[Span, int], Span]) -> list[Span]:
    """The spans of one file's ranges, in offset order, each proven to begin on a record
    boundary. The first range begins at 0; a range that began on a boundary and did not fail
    ends on one (its `next`). A range whose records began elsewhere (a scan that synced onto a
    frame inside a record's data), that found none although the boundary lies inside it, or
    that failed (`error`) is replaced by reread(span, boundary): the range read again from
    that boundary (read_range's `at`). In a file without such frames nothing is read again."""
    boundary, out = 0, []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.error is not None or not _begins_at(span, boundary):
            span = dataclasses.replace(reread(span, boundary), start=span.start)
        out.append(span)
        if span.next is not None:   # set exactly when records were found (first)
            boundary = span.next
    return out


def _begins_at(span: Span, boundary: int) -> bool:
    """Whether the span's records begin at `boundary` (none found: whether none start in it)."""
    return span.first == boundary if span.first is not None else boundary >= span.end


def check_spans(path: str, size: int, spans: Sequence[Span]) -> int:
    """The ranges of one file must tile it: each starts where the previous one's records
    ended, the first at 0 and the last at the end of the file. Returns the record count."""
    expected, total = 0, 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.error is not None:
            raise RecordError(f"the byte range [{span.start}, {span.end}) failed: {span.error}")
        if span.first is None or span.next is None:
            if expected < span.end:
                raise RecordError(f"the byte range [{span.start}, {span.end}) found no record although the "
                                  f"previous range's records end at offset {expected}")
            continue
        if span.first != expected:
            raise RecordError(f"records of byte range [{span.start}, {span.end}) begin at offset {span.first} "
                              f"but the previous records end at offset {expected} (the file is corrupt, or "
                              f"the range synced onto frames inside a record: resolve the spans first)")
        expected, total = span.next, total + span.records
    if expected != size:
        raise RecordError(f"records end at offset {expected} but the file has {size} bytes")
    return total
