"""tinymask.memory: the lecture's figures, the board catalogue and the errors for nonsense input."""

import numpy as np
import pytest

from tinymask import memory


@pytest.mark.parametrize(
    "shape, dtype, expected",
    [
        ((224, 224, 3), "float32", 602_112),
        ((49, 40, 1), "float32", 7_840),
        ((96, 96, 3), "float32", 110_592),
        ((96, 96, 3), "int8", 27_648),
        ((96, 96, 1), "int8", 9_216),
        ((10,), "float16", 20),
        (7, "uint8", 7),
    ],
)
def test_tensor_bytes_reproduces_lecture_figures(shape, dtype, expected):
    assert memory.tensor_bytes(shape, dtype) == expected


def test_tensor_bytes_accepts_numpy_and_tensorflow_dtypes():
    assert memory.tensor_bytes((4, 4), np.dtype("int16")) == 32
    assert memory.tensor_bytes((4, 4), np.int8) == 16


@pytest.mark.parametrize("shape", [(96, -96, 3), (0, 3), (96.0, 96), (), (True, 2), ("96", 96)])
def test_tensor_bytes_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="shape|dimension"):
        memory.tensor_bytes(shape, "int8")


@pytest.mark.parametrize("dtype", ["float23", "object", "str", 4])
def test_unknown_dtype_lists_the_known_ones(dtype):
    with pytest.raises(ValueError) as excinfo:
        memory.tensor_bytes((2, 2), dtype)
    message = str(excinfo.value)
    assert repr(dtype) in message and "float32" in message and "int8" in message


def test_unknown_board_names_close_match_and_known_boards():
    with pytest.raises(ValueError) as excinfo:
        memory.board("openmv-h8")
    message = str(excinfo.value)
    assert "'openmv-h8'" in message and "Did you mean 'openmv-h7'" in message
    for key in memory.BOARDS:
        assert key in message


def test_catalogue_has_the_boards_the_course_names_with_sources():
    required = {"openmv-h7", "openmv-h7-plus", "arduino-nano-33-ble-sense", "arduino-nicla-vision",
                "seeed-xiao-esp32s3", "raspberry-pi-pico"}
    assert required <= set(memory.BOARDS)
    for key, b in memory.BOARDS.items():
        assert b.key == key
        assert b.sram_bytes > 0 and b.flash_bytes > 0 and b.clock_mhz > 0
        assert b.source, f"{key} has no source for its figures"
    h7 = memory.BOARDS["openmv-h7"]
    assert (h7.clock_mhz, h7.sram_bytes, h7.flash_bytes) == (480, 1024 * 1024, 2 * 1024 * 1024)
    assert h7.arena_bytes < h7.sram_bytes


def test_fits_answers_with_numbers():
    fit = memory.fits(602_112, "openmv-h7")
    assert not fit and fit.margin == 267 * 1024 - 602_112
    text = str(fit)
    assert "602,112 B" in text and "273,408 B" in text and "does NOT fit" in text and "OpenMV Cam H7" in text
    small = memory.fits(27_648, "arduino-nano-33-ble-sense")
    assert small and small.available == 256 * 1024 and "fits, 234,496 B to spare" in str(small)
    assert memory.fits(3 * 1024 * 1024, "openmv-h7", memory="flash").fits is False
    assert memory.fits(1_048_576, "openmv-h7", memory="sram").fits is True


@pytest.mark.parametrize("nbytes", [-1, 1.5, "100", None, True])
def test_fits_rejects_nonsense_sizes(nbytes):
    with pytest.raises(ValueError, match="nbytes"):
        memory.fits(nbytes, "openmv-h7")


def test_fits_rejects_unknown_memory_kind():
    with pytest.raises(ValueError, match="'eeprom'"):
        memory.fits(10, "openmv-h7", memory="eeprom")


def test_format_bytes():
    assert memory.format_bytes(512) == "512 B"
    assert memory.format_bytes(602_112) == "602,112 B (588.0 KiB)"
    assert memory.format_bytes(3 * 1024 * 1024) == "3,145,728 B (3.00 MiB)"


def test_activation_peak_of_a_chain():
    keras = pytest.importorskip("keras")
    net = keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same"),  # 32*32*1 + 16*16*4 = 2048
            keras.layers.Conv2D(8, 3, strides=2, padding="same"),  # 1024 + 512 = 1536
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    rows = memory.activation_table(net, "int8")
    assert [r[3] for r in rows[:2]] == [2048, 1536]
    assert memory.peak_activation_bytes(net, "int8") == 2048
    assert memory.peak_activation_bytes(net, "float32") == 4 * 2048
    assert memory.weight_bytes(net, "int8") == net.count_params()


def test_a_fit_with_no_room_at_all_reports_instead_of_dividing_by_zero():
    fit = memory.Fit(1000, 0, "model region less a 640x480 frame", memory.board("openmv-h7"))
    assert not fit.fits and fit.fraction == float("inf")
    assert "no room at all" in str(fit) and "1,000 B over" in str(fit)


def test_heap_block_usable_matches_micropython_tables():
    # the QEMU build's 1 MiB heap: micropython.mem_info() prints "GC: total: 1024512"
    assert memory.heap_block_usable(1 << 20) == 1_024_512
    assert memory.heap_block_usable(64 * 1024) == 64_000 and memory.heap_block_usable(264 * 1024) == 264_128
    with pytest.raises(ValueError, match="positive"):
        memory.heap_block_usable(0)
