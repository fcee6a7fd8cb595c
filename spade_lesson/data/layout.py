"""The prepared-dataset folder layout: the names the downloader writes and SegmentationFolder reads.

    <root>/<name>/dataset.json                      {"name", "class_names", "palette", "ignore_index", "source"}
    <root>/<name>/.prepared                         written last: the preparation is complete
    <root>/<name>/<split>/images/<stem>.jpg|.png    RGB pictures
    <root>/<name>/<split>/labels/<stem>.png         single-channel class ids (255 = don't care)
    <root>/<name>/<split>/instances/<stem>.png      optional: instance ids (any integer PNG), 0 = no instance
"""

from __future__ import annotations

from spade_lesson.data.semantic import IGNORE_INDEX

DATASET_JSON = "dataset.json"
MARKER = ".prepared"  # written last into a finished dataset folder
SPLITS = ("train", "val")
IMAGES, LABELS, INSTANCES = "images", "labels", "instances"  # the folders of one split
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LABEL_SUFFIX = ".png"  # lossless: JPEG would change class ids

# the keys of dataset.json
NAME, CLASS_NAMES, PALETTE, IGNORE, SOURCE = "name", "class_names", "palette", "ignore_index", "source"
MAX_CLASSES = IGNORE_INDEX  # labels are 8-bit: ids 0..254 are classes, 255 is don't care

PREPARED = ("facades", "ade20k", "ade20k-outdoor", "cocostuff", "cityscapes")  # what the downloader prepares
