import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# trained models go to a fresh cache for every test session: the ci preset trains for real
import tempfile as _tempfile

os.environ["ICL_THEOREMS_CACHE"] = _tempfile.mkdtemp(prefix="icl-trained-cache-")
