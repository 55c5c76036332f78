# omv.py: stand-in for OpenMV's `omv` module (modules/py_omv.c; src/omv/modules/py_omv.c on v4.5.6).
from _omvsim import FIRMWARE

# modules/py_omv.c v4.5.6, v4.7.0, v4.8.1, v5.0.0: version_major/minor/patch are MP_ROM_INT (ints, not functions),
# so omv.version_major() raises TypeError: 'int' object isn't callable (seen on the v5.0.0 QEMU build).
version_major, version_minor, version_patch = FIRMWARE


def version_string():
    # modules/py_omv.c (all tags): "%d.%d.%d" of the three numbers.
    return "%d.%d.%d" % FIRMWARE


def arch():
    # modules/py_omv.c (all tags): OMV_ARCH_STR of the board; an OpenMV Cam H7 here.
    return "H7 1024"


def board_type():
    # modules/py_omv.c (all tags): OMV_BOARD_TYPE, a str ("H7" on the OpenMV Cam H7).
    return "H7"


def board_id():
    # modules/py_omv.c (all tags): the MCU's unique id as a hex str.
    return "000000000000000000000000"


def debug_mode():
    # modules/py_omv.c v4.7.0+: True while the IDE is connected; a stand-alone run here.
    return False
