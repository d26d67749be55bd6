"""Reading TFRecord files without TensorFlow: plain or GZIP, local or on any Beam filesystem.

A TFRecord file is a sequence of frames: uint64 length (little endian), the masked crc32c
of those 8 bytes, the data, the masked crc32c of the data. Every frame that is read is
checked (both checksums, no truncation): a corrupt file raises RecordError. Files are read
in chunks (never loaded whole), so memory stays flat in the size of the file.

Plain files can be read in byte ranges, so that one file makes several work units: the
records of range [start, end) are those whose frame *starts* in it. A reader of a range
that does not start at 0 finds its first frame by scanning for a position whose length and
data checksums both hold (two independent 32-bit checks). Each range reports the offsets
where its records began and ended (`Span`); `check_spans` proves that consecutive ranges
met exactly, so a false synchronisation (bytes inside a record that look like a frame) is
an error naming the file, never a silently different count. GZIP files cannot be entered
mid-stream: they are split by taking every n-th batch of records instead.

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
from typing import BinaryIO, Iterator, Sequence

import google_crc32c
import numpy as np

_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")
_CHUNK = 1 << 20
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


def read_bytes(path: str) -> bytes:
    with open_raw(path) as f:
        return f.read()


@dataclasses.dataclass(frozen=True)
class Span:
    """What one byte-range reader covered: the offset of its first record (None: no record
    starts in its range), the offset just past its last record, and the records it read."""
    start: int
    end: int
    first: int | None
    next: int | None
    records: int


class _Buffer:
    """A window over a stream: data[pos:] are the unread bytes at file offset `offset(pos)`."""

    def __init__(self, stream, base: int) -> None:
        self._stream = stream
        self.data = b""
        self.pos = 0
        self._base = base          # file offset of data[0]
        self.eof = False

    def offset(self, pos: int) -> int:
        return self._base + pos

    def fill(self, need: int) -> bool:
        """Makes data[pos:pos+need] available; False if the stream ends first."""
        while len(self.data) - self.pos < need and not self.eof:
            chunk = self._stream.read(max(_CHUNK, need - (len(self.data) - self.pos)))
            if not chunk:
                self.eof = True
                break
            self._base += self.pos
            self.data = self.data[self.pos:] + chunk
            self.pos = 0
        return len(self.data) - self.pos >= need


def _frames(buf: _Buffer, limit: int | None, count: int | None = None, verify: bool = True) -> list:
    """Up to `count` records (all if None) from buf.pos on, while their frame starts before
    file offset `limit`. With verify=False the data is neither checked nor copied (each
    record is None): for records that another reader owns and checks."""
    out, unpack, u32, crc, delta = [], _HEADER.unpack_from, _U32.unpack_from, _crc, _MASK_DELTA
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
            if not buf.fill(16 + length):
                raise RecordError(f"truncated record at offset {buf.offset(buf.pos)} "
                                  f"(needs {length} bytes of data)")
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


def _sync(buf: _Buffer, end: int, size: int) -> bool:
    """Advances buf to the first position before file offset `end` where a frame with valid
    length and data checksums starts; False if there is none."""
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
            if _chain_holds(buf, size):
                return True
            buf.pos += 1    # not a frame: scan on from the next byte
            break
        else:
            buf.pos += span
    return False


def _chain_holds(buf: _Buffer, size: int) -> bool:
    """Whether the frames from buf.pos on hold (both checksums) for LOOKAHEAD_FRAMES frames or
    LOOKAHEAD_BYTES bytes, or exactly up to the end of the file. Random bytes pass one frame's
    checks with probability 2^-64; bytes that embed a TFRecord frame (a record holding a
    TFRecord file) are only caught by this look-ahead when the embedded frames are short, and
    otherwise by check_spans."""
    walked, frames, base = 0, 0, buf.offset(buf.pos)
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
               size: int | None = None) -> Iterator[list[bytes]]:
    """Batches of the records of a plain file whose frames start in [start, end). If `spans`
    is a list, the range's Span is appended to it once the range is read. `size`: the file's
    size if known (else it is looked up when start > 0)."""
    if is_gzip(path):
        raise ValueError(f"{path!r}: GZIP files cannot be read by byte range")
    if start > 0 and size is None:
        size = size_of(path)
    with open_raw(path) as raw:
        if start:
            raw.seek(start)
        buf = _Buffer(raw, start)
        found = start == 0 or _sync(buf, end, size)
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
        buf = _Buffer(_Stream(raw) if is_gzip(path) else raw, 0)
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


def check_spans(path: str, size: int, spans: Sequence[Span]) -> int:
    """The ranges of one file must tile it: each starts where the previous one's records
    ended, the first at 0 and the last at the end of the file. Returns the record count."""
    expected, total = 0, 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.first is None:
            if expected < span.end:
                raise RecordError(f"the byte range [{span.start}, {span.end}) found no record although the "
                                  f"previous range's records end at offset {expected}")
            continue
        if span.first != expected:
            raise RecordError(f"records of byte range [{span.start}, {span.end}) begin at offset {span.first} "
                              f"but the previous records end at offset {expected} (corrupt, or its records "
                              f"contain TFRecord frames: read it whole with shards_per_file=1)")
        expected, total = span.next, total + span.records
    if expected != size:
        raise RecordError(f"records end at offset {expected} but the file has {size} bytes")
    return total
