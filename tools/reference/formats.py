"""Number formats and safetensors I/O for the dsv4 PyTorch reference.

Everything here is written from the format definitions (spec §2.2-§2.4, §11); torch 1.13 has
no float8/float4 dtypes, so the low-precision formats are implemented with integer/bit
arithmetic on fp32 bit patterns.

Conventions: "values" are torch.float32 tensors; "codes" are numpy uint8 arrays (one code per
byte, FP4 codes before packing).
"""
import json
import os
import struct

import numpy as np
import torch

# ----------------------------------------------------------------------------------------------
# fp32 bit helpers
# ----------------------------------------------------------------------------------------------


def f32c(v):
    """A python number as an fp32 0-dim tensor (how CUDA kernels see a python scalar)."""
    return torch.tensor(v, dtype=torch.float32)


def exponent_of(x):
    """Unbiased binary exponent of fp32 values read from the bit pattern (0 -> -127).  x: [...]"""
    bits = x.contiguous().view(torch.int32)
    return ((bits >> 23) & 0xFF) - 127


def pow2(e):
    """2**e as fp32 for integer tensors e in [-126, 127] (built from the bit pattern)."""
    return ((e.to(torch.int32) + 127) << 23).view(torch.float32)


def pow2_ceil(t):
    """Smallest power of two >= t (t > 0, normal fp32): exponent field - 127, +1 if mantissa != 0.

    This is the ue8m0 scale rule of spec §2.3 step 3 (tilelang fast_round_scale)."""
    bits = t.contiguous().view(torch.int32)
    e = ((bits >> 23) & 0xFF) - 127 + ((bits & 0x7FFFFF) != 0).to(torch.int32)
    return pow2(e)


FP8_MAX = 448.0
FP4_MAX = 6.0
FP8_AMAX_MIN = 1e-4
FP4_AMAX_MIN = 6 * 2.0 ** -126


def block_scale(amax, fmt):
    """Power-of-two block scale from an fp32 block absmax (spec §2.3).  fmt: 'e4m3' | 'e2m1'."""
    if fmt == "e4m3":
        a = torch.maximum(amax, f32c(FP8_AMAX_MIN))
        return pow2_ceil(a * f32c(1.0 / FP8_MAX))
    a = torch.maximum(amax, f32c(FP4_AMAX_MIN))
    return pow2_ceil(a * f32c(1.0 / FP4_MAX))


def round_e4m3(x):
    """Round fp32 values (|x| <= 448) to the nearest e4m3fn value, ties to even.

    The quantum of e4m3 at exponent e is 2**(e-3) for normals (e >= -6) and 2**-9 below;
    dividing by a power of two is exact, torch.round is round-half-to-even."""
    q = pow2(torch.clamp(exponent_of(x), min=-6) - 3)
    return torch.round(x / q) * q


def round_e2m1(x):
    """Round fp32 values (|x| <= 6) to the nearest e2m1 value, ties to even code.

    Grid 0, .5, 1, 1.5, 2, 3, 4, 6: quantum 2**(max(e,0)-1)."""
    q = pow2(torch.clamp(exponent_of(x), min=0) - 1)
    return torch.round(x / q) * q


def bf16(x):
    """Round fp32 values to bf16 (RNE) and return them as fp32 (values exactly bf16)."""
    return x.to(torch.bfloat16).to(torch.float32)


# ----------------------------------------------------------------------------------------------
# code tables (decode) and encoders
# ----------------------------------------------------------------------------------------------


def _e4m3_table():
    t = np.zeros(256, dtype=np.float32)
    for b in range(256):
        s, e, m = b >> 7, (b >> 3) & 0xF, b & 7
        if e == 15 and m == 7:
            v = np.nan
        elif e == 0:
            v = m * 2.0 ** -9
        else:
            v = (1 + m / 8.0) * 2.0 ** (e - 7)
        t[b] = -v if s else v
    return t


E4M3_TABLE = _e4m3_table()                      # byte -> value (NaN for 0x7F, 0xFF)
E2M1_TABLE = np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6],
                      dtype=np.float32)         # nibble -> value
E8M0_TABLE = np.array([2.0 ** (b - 127) if b != 255 else np.nan for b in range(256)],
                      dtype=np.float32)         # byte -> scale


def _encode_on_grid(v, grid_pos, sign_bit):
    """Codes of values already on a sign-magnitude grid (grid_pos: increasing positive values)."""
    v = np.asarray(v, dtype=np.float32)
    mag = np.abs(v)
    idx = np.searchsorted(grid_pos, mag)
    idx = np.minimum(idx, len(grid_pos) - 1)
    if not np.array_equal(grid_pos[idx], mag):
        raise ValueError("value not on the format grid")
    return (idx | np.where(np.signbit(v) & (mag > 0), sign_bit, 0)).astype(np.uint8)


def encode_e4m3(v):
    """e4m3fn codes (uint8) of values that are exactly e4m3 (use round_e4m3 first)."""
    return _encode_on_grid(v, E4M3_TABLE[:127], 0x80)


def encode_e2m1(v):
    """e2m1 codes (uint8 in 0..15) of values that are exactly e2m1 (use round_e2m1 first)."""
    return _encode_on_grid(v, E2M1_TABLE[:8], 0x8)


def encode_e8m0(s):
    """ue8m0 bytes of exact powers of two."""
    e = exponent_of(torch.as_tensor(np.asarray(s, dtype=np.float32))).numpy() + 127
    if not np.array_equal(E8M0_TABLE[e], np.asarray(s, dtype=np.float32)):
        raise ValueError("scale is not a power of two")
    return e.astype(np.uint8)


def pack_fp4(codes):
    """[N, K] e2m1 codes -> [N, K/2] int8; byte j = code(2j) | code(2j+1) << 4 (low nibble first)."""
    c = np.asarray(codes, dtype=np.uint8)
    return (c[:, 0::2] | (c[:, 1::2] << 4)).astype(np.uint8).view(np.int8)


def unpack_fp4(packed):
    """[N, K/2] int8 -> [N, K] fp32 e2m1 values."""
    b = np.asarray(packed).view(np.uint8)
    out = np.empty((b.shape[0], b.shape[1] * 2), dtype=np.float32)
    out[:, 0::2] = E2M1_TABLE[b & 0xF]
    out[:, 1::2] = E2M1_TABLE[b >> 4]
    return out


def bf16_bits(x):
    """fp32 values (numpy or torch) -> uint16 bf16 bit patterns, RNE."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().view(np.uint16)


def bf16_values(bits):
    """uint16 bf16 bit patterns -> fp32 numpy values."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


# ----------------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------------

DTYPE_SIZE = {"BF16": 2, "F32": 4, "F8_E4M3": 1, "F8_E8M0": 1, "I8": 1, "I64": 8}
_NP_STORAGE = {"BF16": np.uint16, "F32": np.float32, "F8_E4M3": np.uint8,
               "F8_E8M0": np.uint8, "I8": np.int8, "I64": np.int64}


class RawTensor:
    """One stored tensor: dtype string, shape, raw little-endian storage as a numpy array."""

    def __init__(self, dtype, shape, data):
        assert dtype in DTYPE_SIZE, dtype
        self.dtype, self.shape = dtype, tuple(int(s) for s in shape)
        self.data = np.ascontiguousarray(data, dtype=_NP_STORAGE[dtype]).reshape(self.shape)

    def nbytes(self):
        return self.data.nbytes

    def values(self):
        """Decoded numeric values as a torch tensor: fp32 for float formats (FP8 -> e4m3 value,
        E8M0 -> scale), int8 raw bytes for I8 (FP4 packs), int64 for I64."""
        d = self.data
        if self.dtype == "BF16":
            v = bf16_values(d)
        elif self.dtype == "F32":
            v = d
        elif self.dtype == "F8_E4M3":
            v = E4M3_TABLE[d]
        elif self.dtype == "F8_E8M0":
            v = E8M0_TABLE[d]
        else:
            v = d
        return torch.from_numpy(np.array(v))


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> RawTensor (written in dict order).  8-byte LE header length, JSON
    header (padded with spaces to a multiple of 8), then the raw data."""
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        n = t.nbytes()
        header[name] = {"dtype": t.dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for t in tensors.values():
            f.write(t.data.tobytes())
    return 8 + len(hbytes) + offset


def read_safetensors(path, mmap=False):
    """-> dict name -> RawTensor (in file order).  mmap=True: the tensors are read-only views of
    the file mapped into memory instead of copies (checkpoints larger than the memory to spare,
    e.g. bench/llama_cpp/to_gguf.py's 9 GB benchmark checkpoint)."""
    if mmap:
        blob = np.memmap(path, dtype=np.uint8, mode="r")
    else:
        with open(path, "rb") as f:
            blob = f.read()
    (hlen,) = struct.unpack("<Q", bytes(blob[:8]))
    header = json.loads(bytes(blob[8:8 + hlen]).decode("utf-8"))
    base = 8 + hlen
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        dt = h["dtype"]
        n_elem = int(np.prod(h["shape"])) if h["shape"] else 1
        assert b - a == n_elem * DTYPE_SIZE[dt], f"{name}: size mismatch"
        arr = np.frombuffer(blob, dtype=_NP_STORAGE[dt], count=n_elem, offset=base + a)
        out[name] = RawTensor(dt, h["shape"], arr if mmap else arr.copy())
    return out


def read_checkpoint(model_dir, mmap=False):
    """All tensors of a checkpoint directory: model.safetensors.index.json (multi-shard) or a
    single model.safetensors.  -> dict name -> RawTensor (mmap: as read_safetensors)"""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            for name, t in read_safetensors(os.path.join(model_dir, shard), mmap).items():
                assert weight_map.get(name) == shard, f"{name} not mapped to {shard}"
                out[name] = t
        missing = set(weight_map) - set(out)
        assert not missing, f"tensors listed in the index but absent: {sorted(missing)[:5]}"
        return out
    return read_safetensors(os.path.join(model_dir, "model.safetensors"), mmap)


def write_checkpoint(model_dir, tensors, n_shards=1, last_shard_prefix=None):
    """Write tensors (dict name -> RawTensor) as model.safetensors (n_shards == 1) or as
    model-0000i-of-0000n.safetensors + model.safetensors.index.json.  Tensors whose name starts
    with last_shard_prefix all go to the last shard; the others are split in order."""
    os.makedirs(model_dir, exist_ok=True)
    if n_shards == 1:
        write_safetensors(os.path.join(model_dir, "model.safetensors"), tensors,
                          {"format": "pt"})
        return
    names = list(tensors)
    tail = [n for n in names if last_shard_prefix and n.startswith(last_shard_prefix)]
    tail_set = set(tail)
    head = [n for n in names if n not in tail_set]
    total = sum(tensors[n].nbytes() for n in head) or 1
    n_head_shards = n_shards - 1 if tail else n_shards
    groups, acc = [[] for _ in range(n_shards)], 0
    for n in head:  # split the other tensors in order, balancing bytes
        groups[min(acc * n_head_shards // total, n_head_shards - 1)].append(n)
        acc += tensors[n].nbytes()
    groups[-1].extend(tail)
    assert all(groups), "empty shard"
    weight_map, total_size = {}, 0
    for i, g in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        write_safetensors(os.path.join(model_dir, fname), {n: tensors[n] for n in g},
                          {"format": "pt"})
        for n in g:
            weight_map[n] = fname
            total_size += tensors[n].nbytes()
    with open(os.path.join(model_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total_size}, "weight_map": weight_map}, f,
                  indent=2)
        f.write("\n")
