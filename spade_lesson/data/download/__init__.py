"""Download and prepare the SPADE paper's real datasets (CMP Facades, ADE20K, ADE20K-outdoor, COCO-Stuff, Cityscapes)
or an instructor's archive.

    python data/download.py facades --root data/        # CMP Facade Database: base -> train, extended -> val
    python data/download.py ade20k --root data/         # ADE20K SceneParsing (ADEChallengeData2016.zip)
    python data/download.py ade20k-outdoor --root data/ # its outdoor scenes
    python data/download.py cocostuff --root data/      # COCO 2017 images + stuffthingmaps + instance maps
    python data/download.py cityscapes --root data/     # needs a login: prepares the zips you downloaded
    python data/download.py --url URL --name NAME [--sha256 HEX] --root data/

Archives are kept in <root>/downloads/. A download resumes with HTTP Range from <file>.part and gets its final name only
after it is verified (sha256 when one is known, and always the archive's own CRCs). Extraction refuses entries that
would land outside its folder and archives past a size cap. Every image/label pair is decoded and checked (same size,
class ids in range) and dataset.json is checked before the dataset is written as <root>/<name>/{dataset.json, train/,
val/} (spade_lesson.data.layout) in a staging folder that is renamed into place with its `.prepared` marker, so a
re-run with everything in place does nothing.

Modules: fetch (download, resume, verify), extract (safe unpacking), prepare (check and write), recipes and cocostuff
(the datasets), run (prepare_dataset). The command line is spade_lesson.cli.download.
"""

from spade_lesson.data.download.run import prepare_dataset

__all__ = ["prepare_dataset"]
