# ml/model.py: ml.Model, the Python subclass of the C class (uml.Model) per tag; written from the behaviour of
# scripts/libraries/ml/ml/model.py (v4.5.6, v4.7.0) and scripts/libraries/ml/ml-core/ml/model.py (v4.8.1, v5.0.0).
import image
import uml
from _omvsim import at_least


class Model(uml.Model):
    def __init__(self, *args, **kwargs):
        # v4.5.6, v4.7.0: C init with (*args, kwargs.get("load_to_fb", False)); v4.8.1 adds
        # kwargs.get("postprocess", None); v5.0.0 passes (*args, kwargs.get("postprocess", None)) only, so
        # load_to_fb= is silently ignored there (no TypeError: `ml.Model(path, load_to_fb=True)` loads on the
        # v5.0.0 QEMU build) while a second positional is one too many ("extra positional arguments given").
        if at_least(5, 0, 0):
            super().__init__(*(args + (kwargs.get("postprocess", None),)))
        elif at_least(4, 8, 0):
            super().__init__(*(args + (kwargs.get("load_to_fb", False), kwargs.get("postprocess", None))))
        else:
            super().__init__(*(args + (kwargs.get("load_to_fb", False),)))
        if at_least(4, 7, 0):
            # v4.7.0+: labels from the model path cut at its first "." plus ".txt", one per line; None if that
            # file can't be read (any exception).
            try:
                path = args[0].split(".")[0] + ".txt"
                self.labels = [line.rstrip("\n") for line in open(path, "r")]
            except Exception:
                self.labels = None

    def predict(self, args, **kwargs):
        # All tags: images are wrapped in ml.preprocessing.Normalization() (iterating `args`, so a bare image
        # is iterated pixel by pixel), then the C predict.
        args = [uml._Normalized(x) if isinstance(x, image.Image) else x for x in args]
        return super().predict(args, **kwargs)
