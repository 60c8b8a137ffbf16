#!/usr/bin/python3
"""An independent safetensors reader (stdlib json + struct only) that the C++ tests compare against.

Prints one JSON object per tensor, in header order:
{"name", "dtype", "shape", "begin", "end", "values"}; values are strings so that
floats stay exact (float.hex) and 64-bit integers stay whole. A first line
{"metadata": {...}} carries "__metadata__" (empty if absent).
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


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    data = blob[8 + length:]
    print(json.dumps({"metadata": header.pop("__metadata__", {})}))
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        print(json.dumps({
            "name": name, "dtype": entry["dtype"], "shape": entry["shape"],
            "begin": begin, "end": end,
            "values": decode(entry["dtype"], data[begin:end]),
        }))


if __name__ == "__main__":
    main(sys.argv[1])
