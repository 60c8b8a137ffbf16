#!/usr/bin/python3
"""An independent safetensors reader (stdlib json + struct only) that the C++ tests compare against.

Prints one JSON object per tensor, in header order:
{"name", "dtype", "shape", "begin", "end", "values"}; values are strings so that
floats stay exact (float.hex) and 64-bit integers stay whole. A first line
{"metadata": {...}} carries "__metadata__" (empty if absent).

Like Hugging Face's safetensors (Metadata::validate and read_metadata), it
refuses a file whose tensors, sorted by data_offsets, do not cover the data
area exactly: the first must begin at 0, each where the previous one ends, and
the last must end at the end of the file. A refused file prints one line
"rejected: <reason>" to stderr and exits with status 1.
"""
import json
import struct
import sys

# safetensors dtype -> (struct code, element bytes); bf16 is decoded by hand.
FORMATS = {
    "F64": ("d", 8), "F32": ("f", 4), "F16": ("e", 2), "BF16": (None, 2),
    "I64": ("q", 8), "I32": ("i", 4), "I16": ("h", 2), "I8": ("b", 1),
    "U64": ("Q", 8), "U32": ("I", 4), "U16": ("H", 2), "U8": ("B", 1),
    "BOOL": ("B", 1),
}


def decode(dtype, raw):
    code, size = FORMATS[dtype]
    count = len(raw) // size
    if dtype == "BF16":
        halves = struct.unpack("<%dH" % count, raw)
        numbers = [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in halves]
    else:
        numbers = list(struct.unpack("<%d%s" % (count, code), raw))
    if isinstance(numbers[0] if numbers else 0, float):
        return [n.hex() for n in numbers]
    return [str(n) for n in numbers]


def encode(dtype, values):
    """Little-endian bytes of `values` (Python numbers) in a safetensors dtype;
    BF16 rounds an f32 to nearest even by hand."""
    code, size = FORMATS[dtype]
    if dtype == "BF16":
        out = b""
        for value in values:
            (bits,) = struct.unpack("<I", struct.pack("<f", value))
            bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
            out += struct.pack("<H", bits & 0xFFFF)
        return out
    return struct.pack("<%d%s" % (len(values), code), *values)


def write(path, tensors, metadata=None):
    """Writes {name: (dtype, shape, raw bytes)} as HF's serialize does: sorted
    by descending element size, then name, back to back, after a JSON header
    padded with spaces to a multiple of 8 bytes."""
    names = sorted(tensors, key=lambda n: (-FORMATS[tensors[n][0]][1], n))
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name in names:
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in names:
            f.write(tensors[name][2])


def reject(reason):
    sys.stderr.write("rejected: %s\n" % reason)
    sys.exit(1)


def check_layout(header, data_size):
    """HF's rule: sorted by (begin, end), the tensors tile [0, data_size)."""
    entries = sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"]))
    start = 0
    for name, entry in entries:
        begin, end = entry["data_offsets"]
        if begin != start or end < begin:
            reject("InvalidOffset(%s): [%d, %d) does not begin at %d" % (name, begin, end, start))
        count = 1
        for dim in entry["shape"]:
            count *= dim
        if end - begin != count * FORMATS[entry["dtype"]][1]:
            reject("TensorInvalidInfo(%s)" % name)
        start = end
    if start != data_size:
        reject("MetadataIncompleteBuffer: tensors end at %d, data area has %d bytes"
               % (start, data_size))


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    data = blob[8 + length:]
    metadata = header.pop("__metadata__", {})
    check_layout(header, len(data))
    print(json.dumps({"metadata": metadata}))
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        print(json.dumps({
            "name": name, "dtype": entry["dtype"], "shape": entry["shape"],
            "begin": begin, "end": end,
            "values": decode(entry["dtype"], data[begin:end]),
        }))


if __name__ == "__main__":
    main(sys.argv[1])
