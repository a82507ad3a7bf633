"""pbwire: the protobuf wire format (encoding only what tests need), written
from the protobuf encoding specification, independent of our C code.

    encode([(1, "varint", 1), (10, "bytes", sub_message_bytes)])
    decode(data) -> {field_number: [values]}  (varint / fixed64 -> int, len -> bytes)
    packed_varints(b) -> [ints]
"""


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(fields):
    out = bytearray()
    for num, kind, value in fields:
        if kind == "varint":
            out += varint(num << 3 | 0) + varint(value)
        elif kind == "fixed64":
            out += varint(num << 3 | 1) + int(value).to_bytes(8, "little")
        elif kind in ("bytes", "string"):
            if isinstance(value, str):
                value = value.encode()
            out += varint(num << 3 | 2) + varint(len(value)) + value
        else:
            raise ValueError(kind)
    return bytes(out)


def _read_varint(data, pos):
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("bad varint")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def decode(data):
    fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _read_varint(data, pos)
        elif wt == 1:
            v = int.from_bytes(data[pos:pos + 8], "little")
            pos += 8
        elif wt == 2:
            n, pos = _read_varint(data, pos)
            v = data[pos:pos + n]
            if len(v) != n:
                raise ValueError("truncated")
            pos += n
        elif wt == 5:
            v = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        else:
            raise ValueError("wire type %d" % wt)
        fields.setdefault(num, []).append(v)
    return fields


def packed_varints(b):
    out, pos = [], 0
    while pos < len(b):
        v, pos = _read_varint(b, pos)
        out.append(v)
    return out
