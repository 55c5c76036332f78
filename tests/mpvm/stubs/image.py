# image.py: stand-in for OpenMV's `image` module: Image (size and format only, no pixels) and HaarCascade, with
# the argument parsing of modules/py_image.c per tag (src/omv/modules/py_image.c on v4.5.6).
# 4.x parses with py_helper_consume_array / py_helper_keyword_* (modules/py_helper.c): the flat form
# draw_string(x, y, text) works, a tuple must have exactly the full length, unknown keywords are ignored.
# 5.0.0 parses with mp_arg_parse_all: the position is one tuple, unknown keywords raise TypeError.
import sys

from _omvsim import FRAMES_TAKEN, at_least, get_array, get_array_fixed_n, get_int, get_str, parse_args, vfs_open

V5 = at_least(5, 0, 0)
BINARY, GRAYSCALE, RGB565 = 1, 2, 3  # pixel formats (the numbers are this stand-in's, not the firmware's)


def _consume_array(args, length):
    """py_helper_consume_array (modules/py_helper.c v4.5.6-v4.8.1): a tuple/list of exactly `length` items, or
    `length` flat positionals (else OSError "Not enough positional arguments!", PY_ASSERT_TRUE_MSG raises OSError,
    modules/py_assert.h); returns (items, index of the next argument)."""
    if args and isinstance(args[0], (tuple, list)):
        return get_array_fixed_n(args[0], length), 1
    if len(args) < length:
        raise OSError("Not enough positional arguments!")
    return args[:length], length


def _keyword(args, index, kwargs, name, default):
    """py_helper_keyword_* (modules/py_helper.c v4.x): positional `index`, else keyword `name`, else default."""
    if index < len(args):
        return args[index]
    return kwargs.get(name, default)


def _get_array_min_n(obj, n):
    """py_helper_get_array_min_n (modules/py_helper.c v5.0.0): TypeError "expected tuple/list of at least N elements"."""
    items = get_array(obj)
    if len(items) < n:
        raise TypeError("expected tuple/list of at least %d elements" % n)
    return items


class Cascade:
    """The object image.HaarCascade returns (py_cascade_type, named "Cascade" in modules/py_image.c)."""

    def __init__(self, path, n_stages, window=(24, 24)):
        self.path, self.n_stages, self.window = path, n_stages, window


Cascade.__name__ = "Cascade"


def _haar_file_error(path):
    """How a missing cascade file fails per tag."""
    if at_least(4, 7, 0):
        # lib/imlib/haar.c v4.7.0+: imlib_load_cascade_from_file opens with mp_vfs_open -> OSError ENOENT
        # (the v5.0.0 QEMU build prints "OSError: [Errno 2] ENOENT").
        vfs_open(path, "rb").close()
        return None
    # src/omv/imlib/haar.c v4.5.6: file_open -> file_raise_error -> OSError(ffs_strerror(res)): FR_NO_FILE
    # "Could not find the file", FR_NO_PATH "Could not find the path" (a folder on the way is missing).
    try:
        vfs_open(path, "rb").close()
        return None
    except OSError:
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        try:
            if folder:
                sys.modules["_host_os"].stat(folder)
        except OSError:
            return OSError("Could not find the path")
        return OSError("Could not find the file")


def HaarCascade(*args, **kwargs):
    if V5:
        # py_image_load_cascade v5.0.0: path positional, stages keyword-only (mp_arg_parse_all).
        path = get_str(args[0])
        stages = parse_args(["stages"], {"stages": -1}, args[1:], kwargs, kw_only=("stages",))["stages"]
    else:
        # py_image_load_cascade v4.5.6/v4.7.0/v4.8.1: stages by py_helper_keyword_int (position 1 or keyword).
        path = get_str(args[0])
        stages = _keyword(args, 1, kwargs, "stages", -1)
    if not at_least(4, 7, 0) and path in ("frontalface", "eye"):
        # src/omv/imlib/haar.c v4.5.6 imlib_load_cascade: built-in "frontalface" (25 stages) and "eye" cascades.
        # v4.7.0+ lib/imlib/haar.c has no built-in names: every path is a file (the H7's ROMFS holds
        # /rom/haarcascade_frontalface.cascade).
        return Cascade(path, stages if 0 < stages < 25 else 25)
    error = _haar_file_error(path)
    if error is not None:
        raise error
    return Cascade(path, stages if 0 < stages < 25 else 25)


class Image:
    """An OpenMV image of a given size and pixel format (no pixel data: the scripts' control flow is the point)."""

    def __init__(self, width, height, pixformat=RGB565):
        self._w, self._h, self._fmt = width, height, pixformat

    def width(self):
        return self._w

    def height(self):
        return self._h

    def format(self):
        return self._fmt

    def size(self):
        return self._w * self._h * (2 if self._fmt == RGB565 else 1)

    def __iter__(self):
        # An image iterates over its pixels (ints); ml's predict wrapper then meets ints (see uml.py).
        for _ in range(self._w * self._h):
            yield 0

    def _roi(self, roi):
        if roi is None:
            return (0, 0, self._w, self._h)
        x, y, w, h = (get_int(v) for v in (_get_array_min_n(roi, 4) if V5 else get_array_fixed_n(roi, 4)))
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self._w, x + w), min(self._h, y + h)
        if x1 <= x0 or y1 <= y0:
            # py_helper_keyword_rectangle_roi / py_helper_arg_to_roi: "ROI does not overlap on the image!"
            raise ValueError("ROI does not overlap on the image!")
        return (x0, y0, x1 - x0, y1 - y0)

    def draw_string(self, *args, **kwargs):
        if V5:
            # py_image_draw_string v5.0.0: mp_obj_get_array_fixed_n(pos_args[1], 2), then a str, then
            # mp_arg_parse_all(color, scale, x_spacing, ...): flat ints -> TypeError "object 'int' isn't a tuple
            # or list" (seen on the v5.0.0 QEMU build).
            if not args:
                raise TypeError("function missing required positional argument")
            get_array_fixed_n(args[0], 2)
            get_str(args[1])
            parse_args(["color", "scale", "x_spacing", "y_spacing", "mono_space", "char_rotation", "char_hmirror",
                        "char_vflip", "string_rotation", "string_hmirror", "string_vflip"],
                       {"color": None, "scale": None, "x_spacing": 0, "y_spacing": 0, "mono_space": True,
                        "char_rotation": 0, "char_hmirror": False, "char_vflip": False, "string_rotation": 0,
                        "string_hmirror": False, "string_vflip": False}, args[2:], kwargs)
        else:
            # py_image_draw_string v4.5.6/v4.7.0/v4.8.1: py_helper_consume_array(args, 1, 3): (x, y, text) as one
            # 3-tuple or three positionals; (x, y) as a 2-tuple -> ValueError "requested length 3 but object has
            # length 2" (mp_obj_get_array_fixed_n). Keywords are looked up (unknown ones ignored).
            items, offset = _consume_array(args, 3)
            get_int(items[0])
            get_int(items[1])
            get_str(items[2])
            scale = _keyword(args, offset + 1, kwargs, "scale", 1.0)
            if not 0 < scale:
                raise OSError("Error: 0 < scale!")
        return self

    def draw_rectangle(self, *args, **kwargs):
        if V5:
            # py_image_draw_rectangle v5.0.0: py_helper_get_array_min_n(pos_args[1], 4), then
            # mp_arg_parse_all(color, thickness, fill): flat ints -> TypeError "object 'int' isn't a tuple or list".
            if not args:
                raise TypeError("function missing required positional argument")
            for v in _get_array_min_n(args[0], 4)[:4]:
                get_int(v)
            parse_args(["color", "thickness", "fill"], {"color": None, "thickness": 1, "fill": False}, args[1:],
                       kwargs)
        else:
            # py_image_draw_rectangle v4.x: py_helper_consume_array(args, 1, 4): a 4-tuple or four positionals.
            items, _ = _consume_array(args, 4)
            for v in items:
                get_int(v)
        return self

    def copy(self, *args, **kwargs):
        # py_image_copy: roi (keyword or first positional on 4.x; mp_arg_parse_all roi/x_scale/... on 5.0.0);
        # the copy has the ROI's size.
        if V5:
            opts = parse_args(["roi", "x_scale", "y_scale", "hint", "copy_to_fb"],
                              {"roi": None, "x_scale": 1.0, "y_scale": 1.0, "hint": 0, "copy_to_fb": False},
                              args, kwargs, kw_only=("roi", "x_scale", "y_scale", "hint", "copy_to_fb"))
            roi = opts["roi"]
        else:
            roi = _keyword(args, 0, kwargs, "roi", None)
        x, y, w, h = self._roi(roi)
        return Image(w, h, self._fmt)

    def find_features(self, *args, **kwargs):
        if not args or not isinstance(args[0], Cascade):
            # PY_ASSERT_TYPE(cascade, &py_cascade_type) (modules/py_assert.h): TypeError.
            raise TypeError("Can't convert %s to %s" % (type(args[0]).__name__ if args else "NoneType", "Cascade"))
        cascade = args[0]
        if V5:
            # py_image_find_features v5.0.0: threshold, scale, roi keyword-only (mp_arg_parse_all): scale_factor=
            # -> TypeError "extra keyword arguments given" (seen on the v5.0.0 QEMU build).
            opts = parse_args(["threshold", "scale", "roi"], {"threshold": None, "scale": None, "roi": None},
                              args[1:], kwargs, kw_only=("threshold", "scale", "roi"))
            roi = opts["roi"]
        else:
            # py_image_find_features v4.x: threshold (2), scale_factor (3), roi (4) by py_helper_keyword_*;
            # an unknown keyword such as scale= is ignored (scale_factor keeps its 1.5 default).
            roi = _keyword(args, 3, kwargs, "roi", None)
        x, y, w, h = self._roi(roi)
        if not (w > cascade.window[0] and h > cascade.window[1]):
            raise OSError("Region of interest is smaller than detector window!")
        # Synthetic detections: one centred face on two frames out of three, none on the third.
        if FRAMES_TAKEN.taken % 3 == 0:
            return []
        side = min(w, h) // 2
        return [(x + (w - side) // 2, y + (h - side) // 2, side, side)]

    def save(self, path, *args, **kwargs):
        # py_image_save: writes the file (a JPEG for .jpg); a missing folder fails as opening the file does:
        # v4.5.6 file_open -> OSError "Could not find the path"; v4.7.0+ mp_vfs_open -> OSError ENOENT.
        path = get_str(path)
        try:
            f = vfs_open(path, "wb")
        except OSError:
            if not at_least(4, 7, 0):
                raise OSError("Could not find the path")
            raise
        with f:
            f.write(b"\xff\xd8\xff\xe0synthetic\xff\xd9")
        return self

    def __repr__(self):
        return '{"w":%d, "h":%d, "type":"%s", "size":%d}' % (
            self._w, self._h, {RGB565: "rgb565", GRAYSCALE: "grayscale", BINARY: "binary"}[self._fmt], self.size())
