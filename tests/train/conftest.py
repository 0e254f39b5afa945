"""The tests of every train/ package share tests/train's data fixtures (train_data_fixtures)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
