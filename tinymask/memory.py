"""Tensor bytes, a board catalogue and "does it fit?" answers with numbers (introduced in
notebooks/01_memory_budget.ipynb)."""

import difflib
from dataclasses import dataclass

from .errors import InputError, is_int

__all__ = [
    "DTYPE_BYTES",
    "BOARDS",
    "Board",
    "Region",
    "Fit",
    "LECTURE_MODEL_SIZES_MB",
    "tensor_bytes",
    "board",
    "fits",
    "weight_bytes",
    "activation_table",
    "peak_activation_bytes",
    "keras_application_sizes",
    "format_bytes",
    "heap_block_usable",
]

#: Bytes per element of the dtypes a TinyML model meets.
DTYPE_BYTES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
}

KIB = 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class Region:
    """One block of a board's memory as its firmware lays it out: which memory, what the firmware calls it, bytes."""

    memory: str
    name: str
    nbytes: int
    holds: str = ""


@dataclass(frozen=True)
class Board:
    """A microcontroller board: its memories, clock and where each figure comes from."""

    key: str
    name: str
    mcu: str
    core: str
    clock_mhz: int
    sram_bytes: int
    flash_bytes: int
    source: str
    extra_ram: str = ""
    #: Largest block the tensor arena can get, where the firmware documents one (else the whole SRAM is the bound).
    #: OpenMV: the arena is allocated from the MicroPython heap, whose largest block bounds it.
    arena_bytes: int | None = None
    #: Region a model is loaded into beside the camera frames (OpenMV ``ml.Model(..., load_to_fb=True)``), where the
    #: board needs it; without one the model is read into the heap (``arena_bytes``) or runs from flash.
    model_region_bytes: int | None = None
    #: The frame buffer: the largest camera frame the firmware can hold.
    frame_buffer_bytes: int | None = None
    #: The internal USB drive a camera script and its model can be copied to (OpenMV: part of the MCU's flash);
    #: a bundle larger than this needs an SD card.
    drive_bytes: int | None = None
    #: Where a bundle's files go, in words (the OpenMV firmware mounts the SD card at ``/sdcard`` from 4.6).
    drive_note: str = ""
    notes: str = ""
    #: The memory map the firmware uses (``Region`` rows: RAM first, then internal flash), where we read it.
    regions: tuple = ()
    #: Where the firmware figures come from: file and tag in github.com/openmv/openmv.
    firmware_source: str = ""
    #: OpenMV firmware 5.0: the MicroPython heap's blocks in the order the heap fills them (bytes as configured,
    #: before MicroPython's allocation tables: :func:`heap_block_usable`), and the UMA pool that holds the camera
    #: frames and a model the heap cannot take (``tinymask.board_fit.firmware5_placement``).
    heap_blocks_5_0: tuple = ()
    uma_bytes_5_0: int | None = None


BOARDS = {
    b.key: b
    for b in [
        Board(
            key="openmv-h7",
            name="OpenMV Cam H7",
            mcu="STM32H743VI",
            core="Arm Cortex-M7 (double-precision FPU)",
            clock_mhz=480,
            sram_bytes=1 * MIB,
            flash_bytes=2 * MIB,
            arena_bytes=267 * KIB,
            model_region_bytes=480 * KIB,
            frame_buffer_bytes=400 * KIB,
            drive_bytes=128 * KIB,
            drive_note="the internal drive is 128 KB (OMV_FLASH_FFS_LENGTH, boards/OPENMV4/omv_boardconfig.h at "
            "v4.7.0, board_config.h at v5.0.0): a larger bundle goes on a FAT32 micro SD card, at its root; "
            "the firmware mounts the card at /sdcard from 4.6 (scripts/libraries/_boot.py at v4.6.0; / on 4.5.6) "
            "and runs main.py from it",
            notes="firmware 4.5.6-4.8.1: a 400 KiB frame buffer plus 80 KiB of fb_alloc in the 512 KiB AXI SRAM "
            "(ml.Model(path, load_to_fb=True) reads the model into that 480 KiB, beside the frame); the tensor "
            "arena is allocated from the MicroPython heap, whose largest block is 267 KiB in SRAM1. Firmware 5.0.0: "
            "one 480 KiB pool (UMA) in the AXI SRAM holds the frames and a model too big for the heap; the heap's "
            "largest block is 264 KiB. The model file itself sits on the 128 KiB drive or an SD card, never in the "
            "firmware's flash",
            regions=(
                Region("ITCM", "stack", 64 * KIB, "the C stack"),
                Region("DTCM", "drive cache", 128 * KIB, "RAM cache of the internal drive"),
                Region("AXI SRAM", "frame buffer", 400 * KIB, "camera frames (sized for 640x480 grayscale)"),
                Region("AXI SRAM", "fb_alloc", 80 * KIB, "image scratch; a model loaded with load_to_fb=True"),
                Region("AXI SRAM", "JPEG buffer", 32 * KIB, "the frame the IDE shows"),
                Region("SRAM1", "data/bss", 13 * KIB, "the firmware's variables"),
                Region("SRAM1", "heap block 1", 267 * KIB, "MicroPython objects and the tensor arena"),
                Region("SRAM2", "DMA buffers", 8 * KIB, "USB and peripheral buffers"),
                Region("SRAM4", "heap block 0", 26 * KIB, "MicroPython objects"),
                Region("SRAM4", "VOSPI buffer", 38 * KIB, "thermal-sensor (FLIR Lepton) frames"),
                Region("flash", "bootloader", 128 * KIB, ""),
                Region("flash", "internal drive", 128 * KIB, "the USB drive: main.py, small models"),
                Region("flash", "firmware", 1664 * KIB, "MicroPython, the OpenMV libraries, TFLite Micro"),
                Region("flash", "ROMFS", 128 * KIB, "built-in files under /rom (Haar cascades, models)"),
            ),
            firmware_source="boards/OPENMV4/omv_boardconfig.h at v4.7.0 (OMV_FB_SIZE 400K, OMV_FB_ALLOC_SIZE 80K, "
            "OMV_JPEG_SIZE 32K, OMV_GC_BLOCK0_SIZE 26K, OMV_GC_BLOCK1_SIZE 267K, OMV_VOSPI_SIZE 38K, "
            "OMV_FLASH_FFS_LENGTH 128K, OMV_SRAM0_LENGTH 512K, OMV_SRAM1_LENGTH 280K); "
            "boards/OPENMV4/board_config.h at v5.0.0 (OMV_UMA_BLOCK0_SIZE 480K, OMV_GC_BLOCK1_SIZE 264K); "
            "lib/tflm/tflm_backend.cc (the arena: m_new of the heap's largest free block) and modules/py_ml.c "
            "(the model: fb_alloc with load_to_fb, else the heap; UMA from 5.0.0)",
            heap_blocks_5_0=(64 * KIB, 264 * KIB),  # OMV_GC_BLOCK0_SIZE (SRAM4), OMV_GC_BLOCK1_SIZE (SRAM1), v5.0.0
            uma_bytes_5_0=480 * KIB,  # OMV_UMA_BLOCK0_SIZE (SRAM0), boards/OPENMV4/board_config.h at v5.0.0
            source="openmv.io product page for the OpenMV Cam H7; ST datasheet DS12110 (STM32H743xI)",
        ),
        Board(
            key="openmv-h7-plus",
            name="OpenMV Cam H7 Plus",
            mcu="STM32H743II",
            core="Arm Cortex-M7 (double-precision FPU)",
            clock_mhz=480,
            sram_bytes=1 * MIB,
            flash_bytes=2 * MIB,
            extra_ram="32 MB SDRAM, 32 MB external flash",
            arena_bytes=4 * MIB,
            frame_buffer_bytes=16 * MIB,
            drive_bytes=128 * KIB,
            firmware_source="boards/OPENMV4P/omv_boardconfig.h at v4.7.0 (OMV_GC_BLOCK1_MEMORY DRAM, "
            "OMV_GC_BLOCK1_SIZE 4M: the heap block that holds the arena and, with load_to_fb=False as the exporter "
            "writes for this board, the model; OMV_FB_MEMORY DRAM, OMV_FB_SIZE 16M, OMV_FB_ALLOC_SIZE 11M)",
            drive_note="the internal drive is 128 KB (OMV_FLASH_FFS_LENGTH, boards/OPENMV4P/omv_boardconfig.h at "
            "v4.7.0, board_config.h at v5.0.0): a larger bundle goes on a FAT32 micro SD card, at its root; "
            "the firmware mounts the card at /sdcard from 4.6 (scripts/libraries/_boot.py at v4.6.0; / on 4.5.6) "
            "and runs main.py from it",
            source="openmv.io product page for the OpenMV Cam H7 Plus; ST datasheet DS12110 (STM32H743xI)",
        ),
        Board(
            key="arduino-nano-33-ble-sense",
            name="Arduino Nano 33 BLE Sense",
            mcu="nRF52840",
            core="Arm Cortex-M4F",
            clock_mhz=64,
            sram_bytes=256 * KIB,
            flash_bytes=1 * MIB,
            source="docs.arduino.cc Nano 33 BLE Sense datasheet; Nordic nRF52840 product specification",
        ),
        Board(
            key="arduino-nicla-vision",
            name="Arduino Nicla Vision",
            mcu="STM32H747AII6",
            core="Arm Cortex-M7 at 480 MHz + Cortex-M4 at 240 MHz",
            clock_mhz=480,
            sram_bytes=1 * MIB,
            flash_bytes=2 * MIB,
            extra_ram="16 MB QSPI flash (no SDRAM)",
            arena_bytes=276 * KIB,
            model_region_bytes=476 * KIB,
            frame_buffer_bytes=400 * KIB,
            notes="OpenMV firmware: the heap's largest block is 276 KiB in SRAM1; a 400 KiB frame buffer plus "
            "76 KiB of fb_alloc in the AXI SRAM; the board defines no SDRAM",
            firmware_source="boards/ARDUINO_NICLA_VISION/omv_boardconfig.h at v4.7.0 (OMV_GC_BLOCK2_SIZE 276K, "
            "OMV_FB_SIZE 400K, OMV_FB_ALLOC_SIZE 76K; no DRAM region, unlike ARDUINO_PORTENTA_H7's 8M)",
            source="docs.arduino.cc Nicla Vision datasheet; ST datasheet DS12930 (STM32H747xI)",
        ),
        Board(
            key="seeed-xiao-esp32s3",
            name="Seeed Studio XIAO ESP32S3",
            mcu="ESP32-S3R8",
            core="Xtensa LX7 dual-core",
            clock_mhz=240,
            sram_bytes=512 * KIB,
            flash_bytes=8 * MIB,
            extra_ram="8 MB PSRAM",
            source="wiki.seeedstudio.com XIAO ESP32S3 getting started; Espressif ESP32-S3 datasheet",
        ),
        Board(
            key="raspberry-pi-pico",
            name="Raspberry Pi Pico",
            mcu="RP2040",
            core="Arm Cortex-M0+ dual-core (no FPU)",
            clock_mhz=133,
            sram_bytes=264 * KIB,
            flash_bytes=2 * MIB,
            source="Raspberry Pi Pico datasheet; RP2040 datasheet",
        ),
    ]
}

#: Model sizes quoted in the lecture (the Keras Applications table: MB of the saved weights file, with top).
LECTURE_MODEL_SIZES_MB = {
    "Xception": 88,
    "VGG16": 528,
    "ResNet50": 98,
    "InceptionV3": 92,
    "DenseNet121": 33,
    "MobileNetV2": 14,
    "MobileNet": 16,
}


def _dtype_name(dtype):
    if isinstance(dtype, type):  # a NumPy scalar type such as np.int8
        import numpy as np

        dtype = np.dtype(dtype)
    name = getattr(dtype, "name", dtype)  # NumPy and TensorFlow dtypes carry a name
    if not isinstance(name, str) or name not in DTYPE_BYTES:
        known = ", ".join(DTYPE_BYTES)
        raise InputError(f"unknown dtype {dtype!r}; use one of: {known}")
    return name


def tensor_bytes(shape, dtype="float32"):
    """Bytes of a dense tensor: the product of ``shape`` times the bytes of one ``dtype`` element."""
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(shape)
    if not shape:
        raise InputError("shape is empty; give the tensor's dimensions, e.g. (96, 96, 3)")
    count = 1
    for i, dim in enumerate(shape):
        if not is_int(dim) or dim <= 0:
            raise InputError(
                f"shape {shape} has {dim!r} at index {i}; every dimension must be a positive integer"
            )
        count *= dim
    return count * DTYPE_BYTES[_dtype_name(dtype)]


def board(key):
    """The catalogue entry for ``key`` (e.g. ``"openmv-h7"``); a ``Board`` is returned as it is."""
    if isinstance(key, Board):
        return key
    if key in BOARDS:
        return BOARDS[key]
    close = difflib.get_close_matches(str(key), list(BOARDS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise InputError(f"unknown board {key!r}.{hint} Known boards: {', '.join(BOARDS)}")


def heap_block_usable(nbytes):
    """Bytes of a MicroPython heap block of ``nbytes`` that objects can use (``gc_setup_area`` in py/gc.c): the
    rest holds the allocation and finaliser tables, one byte per 4 blocks of 16 B and one per 8 blocks.
    ``heap_block_usable(1 << 20) == 1_024_512``, the total ``micropython.mem_info()`` prints for the 1 MiB heap of
    the OpenMV firmware built for QEMU."""
    if not is_int(nbytes) or nbytes < 1:
        raise InputError(f"nbytes must be a positive integer number of bytes, got {nbytes!r}")
    table_bytes = (nbytes - 1) * 8 // (8 + 8 * 4 // 8 + 8 * 4 * 16)
    return table_bytes * 4 * 16


def format_bytes(n):
    """``602112`` -> ``'602,112 B (588.0 KiB)'``: exact bytes first, a readable unit after."""
    if n >= MIB:
        return f"{n:,} B ({n / MIB:.2f} MiB)"
    if n >= KIB:
        return f"{n:,} B ({n / KIB:.1f} KiB)"
    return f"{n:,} B"


@dataclass(frozen=True)
class Fit:
    """The answer to "does it fit?": bytes needed, bytes available, and in which memory of which board."""

    needed: int
    available: int
    memory: str
    board: Board

    @property
    def fits(self):
        return self.needed <= self.available

    @property
    def fraction(self):
        """needed / available (infinite when nothing is available and something is needed)."""
        if self.available <= 0:
            return 0.0 if self.needed <= 0 else float("inf")
        return self.needed / self.available

    @property
    def margin(self):
        """Bytes to spare (negative when it does not fit)."""
        return self.available - self.needed

    def __bool__(self):
        return self.fits

    def __str__(self):
        verdict = (
            f"fits, {self.margin:,} B to spare"
            if self.fits
            else f"does NOT fit: {-self.margin:,} B over"
        )
        share = f"{100 * self.fraction:.1f}%" if self.available > 0 else "no room at all"
        return f"{self.needed:,} B of {self.available:,} B {self.memory} on {self.board.name} ({share}): {verdict}"


def fits(nbytes, board_key, memory="ram"):
    """Does ``nbytes`` fit on a board? ``memory`` is "ram" (the arena block where known, else all SRAM), "sram" or
    "flash"."""
    if not is_int(nbytes) or nbytes < 0:
        raise InputError(f"nbytes must be a non-negative integer number of bytes, got {nbytes!r}")
    b = board(board_key)
    if memory == "ram":
        if b.arena_bytes is not None:
            return Fit(nbytes, b.arena_bytes, "arena heap block", b)
        return Fit(nbytes, b.sram_bytes, "SRAM", b)
    if memory == "sram":
        return Fit(nbytes, b.sram_bytes, "SRAM", b)
    if memory == "flash":
        return Fit(nbytes, b.flash_bytes, "flash", b)
    raise InputError(f"unknown memory {memory!r}; use 'ram', 'sram' or 'flash'")


def weight_bytes(model, dtype="float32"):
    """Bytes of all a Keras model's parameters stored as ``dtype`` (what goes to flash)."""
    return model.count_params() * DTYPE_BYTES[_dtype_name(dtype)]


def _shape_bytes(shape, dtype):
    dims = tuple(int(d) for d in shape[1:])  # drop the batch dimension
    return tensor_bytes(dims, dtype)


def activation_table(model, dtype="float32"):
    """Per layer of a chain-shaped Keras model: (name, input bytes, output bytes, both alive at once).

    While a layer runs, its input and its output must both be in RAM; the largest such pair is the
    activation peak. (Branching models keep more alive; this is then a lower bound.)
    """
    rows = []
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        if layer.__class__.__name__ in ("Functional", "Sequential") and hasattr(layer, "layers"):
            rows += activation_table(layer, dtype)  # a nested model (e.g. a backbone): its own layers
            continue
        ins = layer.input if isinstance(layer.input, list) else [layer.input]
        outs = layer.output if isinstance(layer.output, list) else [layer.output]
        in_b = sum(_shape_bytes(t.shape, dtype) for t in ins)
        out_b = sum(_shape_bytes(t.shape, dtype) for t in outs)
        rows.append((layer.name, in_b, out_b, in_b + out_b))
    return rows


def peak_activation_bytes(model, dtype="float32"):
    """The largest input+output pair of :func:`activation_table`: the RAM the activations need at least."""
    return max(row[3] for row in activation_table(model, dtype))


def keras_application_sizes(names=tuple(LECTURE_MODEL_SIZES_MB)):
    """Parameters and float32 MiB of Keras Applications built with random weights (no download)."""
    import keras

    sizes = {}
    for name in names:
        build = getattr(keras.applications, name)
        model = build(weights=None)
        params = model.count_params()
        sizes[name] = (params, params * 4 / MIB)
        del model
        keras.backend.clear_session()
    return sizes
