"""The paper's published numbers (Tables 1-3, and the methods it quotes)
that our tables print beside ours."""


# Published numbers: paper Tables 1-3 (BM3D etc. as the paper quotes them).
PAPER = {
    "denoise": {
        "bsd68": {
            "BM3D": {"sigma15": 31.08, "sigma25": 28.56, "sigma50": 25.62,
                     "sigma25_q8": 28.31},
            "RIM-3task": {"sigma15": 31.19, "sigma25": 28.67, "sigma50": 25.78,
                          "sigma15_q8": 31.06, "sigma25_q8": 28.41,
                          "sigma50_q8": 24.86},
            "RIM-denoise": {"sigma15": 31.31, "sigma25": 28.91,
                            "sigma50": 26.06, "sigma15_q8": 31.25,
                            "sigma25_q8": 28.76, "sigma50_q8": 25.27},
        },
        "bsd100": {
            "BM3D": {"sigma25": 28.35, "sigma50": 25.45},
            "RIM-3task": {"sigma15": 30.98, "sigma25": 28.45, "sigma50": 25.59,
                          "sigma15_q8": 30.88, "sigma25_q8": 28.24,
                          "sigma50_q8": 24.73},
            "RIM-denoise": {"sigma15": 31.10, "sigma25": 28.72,
                            "sigma50": 25.88, "sigma15_q8": 31.05,
                            "sigma25_q8": 28.58, "sigma50_q8": 25.14},
        },
    },
    "denoise_color": {
        "bsd68": {"CBM3D": {"sigma25_q8": 30.18},
                  "RTF-5": {"sigma25_q8": 30.57},
                  "RIM": {"sigma25_q8": 30.84}},
        "bsd100": {"RIM": {"sigma25_q8": 30.67}},
    },
    "superres": {
        "bsd100": {
            "Bicubic": {"x2": 29.55, "x3": 27.20, "x4": 25.96},
            "SRCNN": {"x2": 31.11, "x3": 28.20, "x4": 26.70},
            "A+": {"x2": 31.22, "x3": 28.30, "x4": 26.82},
            "SelfExSR": {"x2": 31.18, "x3": 28.30, "x4": 26.85},
            "RIM": {"x2": 31.39, "x3": 28.51, "x4": 27.01},
        },
    },
}


PAPER_SSIM = {
    "superres": {
        "bsd100": {
            "Bicubic": {"x2": 0.8425, "x3": 0.7382, "x4": 0.6672},
            "SRCNN": {"x2": 0.8835, "x3": 0.7794, "x4": 0.7018},
            "RIM": {"x2": 0.8885, "x3": 0.7888, "x4": 0.7156},
        },
    },
}


# The paper's row of the RIM trained for each task (Tables 1-3).
PAPER_RIM = {"denoise": "RIM-denoise", "denoise_color": "RIM",
             "superres": "RIM"}


# Other rows of the paper a RIM is measured against, before its own: the
# learned super-resolution method the paper's RIM is compared with first.
PAPER_BARS = {"superres": ("SRCNN",)}
