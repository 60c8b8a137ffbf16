#!/usr/bin/env python3
"""Checks TensorBoard event files against metrics.jsonl, reading them with nothing but this file: TFRecord framing
(length, masked CRC-32C, data, masked CRC-32C) and the protobuf wire format with TensorBoard's field numbers.
Usage: tfevents.py RUNS_DIR METRICS_JSONL   (exit 0 when every metrics record is in the events, tags as transformers')"""
import glob, json, struct, sys

def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def masked(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

def varint(buf, at):
    value = shift = 0
    while True:
        byte = buf[at]; at += 1
        value |= (byte & 0x7F) << shift; shift += 7
        if not byte & 0x80:
            return value, at

def fields(buf):
    at = 0
    while at < len(buf):
        key, at = varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(buf, at)
        elif wire == 1:
            value, at = buf[at:at + 8], at + 8
        elif wire == 5:
            value, at = buf[at:at + 4], at + 4
        elif wire == 2:
            size, at = varint(buf, at)
            value, at = buf[at:at + size], at + size
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value

def events(path):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[at + 8:at + 12])[0] == masked(header), f"{path}: bad length CRC at {at}"
        body = data[at + 12:at + 12 + length]
        assert struct.unpack("<I", data[at + 12 + length:at + 16 + length])[0] == masked(body), f"{path}: bad CRC"
        at += 16 + length
        event = {"step": 0, "values": {}}
        for number, value in fields(body):
            if number == 2:
                event["step"] = value
            elif number == 3:
                event["file_version"] = value.decode()
            elif number == 5:
                for _, entry in fields(value):
                    tag, simple = None, None
                    for n, v in fields(entry):
                        if n == 1: tag = v.decode()
                        if n == 2: (simple,) = struct.unpack("<f", v)
                    event["values"][tag] = simple
        yield event

def main(runs, metrics_path):
    files = sorted(glob.glob(f"{runs}/events.out.tfevents.*"))
    assert files, f"no event file in {runs}"
    scalars = {}
    for path in files:
        found = list(events(path))
        assert found[0].get("file_version") == "brain.Event:2", path
        for event in found[1:]:
            for tag, value in event["values"].items():
                scalars[(event["step"], tag)] = value
    records = [json.loads(line) for line in open(metrics_path)]
    for record in records:
        for key, value in record.items():
            if key == "step" or not isinstance(value, (int, float)):
                continue
            tag = "eval/" + key[5:] if key.startswith("eval_") else "train/" + ("learning_rate" if key == "lr" else key)
            got = scalars.get((record["step"], tag))
            assert got is not None, f"step {record['step']}: no {tag}"
            assert got == struct.unpack("<f", struct.pack("<f", value))[0], f"step {record['step']}: {tag} {got} != {value}"
    print(f"{len(files)} event file(s), {len(scalars)} scalars, all {len(records)} metrics records present")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
