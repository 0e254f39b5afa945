"""The objectives' tests share tests/train's data fixtures (train_data_fixtures)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
