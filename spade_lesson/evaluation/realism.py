"""How real the pictures look, beside how faithfully they follow the map: KID in the features of a judge.

mIoU (spade_lesson.evaluation.segmenter) asks whether a segmenter can read the layout back from a picture, and a
picture that fills each region with its class's mean colour passes that test almost perfectly. A realism score
compares instead the distribution of the pictures with that of real images, in the features of a network trained on
the real images here (the judge U-Net: offline, unlike Inception's weights):

    features(x) = [mean and std over positions of each encoder level's activations]       (N, 2 * sum of widths)
    KID = MMD^2 with the kernel k(a, b) = (a . b / D + 1)^3, unbiased (Binkowski et al., 2018)

KID is 0 in expectation for two sets drawn from the same distribution (its floor, measured with two disjoint real
sets, is noise around 0), unbiased at any set size (unlike FID), and grows as the pictures' features move away from
the real ones. Reported x 1000, as is usual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spade_lesson.evaluation.segmenter import UNet

KID_SCALE = 1000  # KID is printed x 1000


@torch.no_grad()
def judge_features(judge: UNet, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """images: (N, 3, H, W) in [-1, 1] -> (N, D) per-level means and standard deviations of the judge's encoder."""
    was_training = judge.training
    judge.eval()
    device = next(judge.parameters()).device
    rows = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device).float()
        pooled = []
        for level, block in enumerate(judge.down):
            x = block(x if level == 0 else F.max_pool2d(x, kernel_size=2))
            pooled += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]  # a level's colours and its texture
        rows.append(torch.cat(pooled, dim=1).cpu())
    judge.train(was_training)
    return torch.cat(rows).double()


def kid(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Unbiased MMD^2 between two feature sets (N, D) and (M, D), N, M >= 2, cubic polynomial kernel, x KID_SCALE."""
    if features_a.dim() != 2 or features_b.dim() != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"kid: features of shapes {tuple(features_a.shape)} and {tuple(features_b.shape)}; pass "
                         "(N, D) and (M, D)")
    n, m = len(features_a), len(features_b)
    if n < 2 or m < 2:
        raise ValueError(f"kid: {n} and {m} feature rows; pass at least 2 of each")
    dim = features_a.shape[1]
    kernel = lambda a, b: (a.double() @ b.double().T / dim + 1) ** 3
    k_aa, k_bb, k_ab = kernel(features_a, features_a), kernel(features_b, features_b), kernel(features_a, features_b)
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (n * (n - 1))  # E k(a, a') over distinct pairs
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
    return float((within_a + within_b - 2 * k_ab.mean()) * KID_SCALE)


def realism(judge: UNet, pictures: torch.Tensor, real: torch.Tensor) -> float:
    """KID x 1000 between pictures (N, 3, H, W) and real images (M, 3, H, W) in the judge's features: lower is
    more real; real images against other real images score about 0."""
    return kid(judge_features(judge, pictures), judge_features(judge, real))
