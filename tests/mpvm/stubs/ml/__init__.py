# ml/__init__.py: stand-in for OpenMV's `ml` package (scripts/libraries/ml/ml/__init__.py v4.5.6, v4.7.0;
# scripts/libraries/ml/ml-core/ml/__init__.py v4.8.1, v5.0.0): it exports ml.model's names.
from ml.model import Model
