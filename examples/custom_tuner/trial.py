"""The trial of the custom-tuner example: a small MLP on scikit-learn's digits, on a CPU in seconds.

Its open choices are annotations; run as plain Python it trains the defaults written below them.
`nasctl trial run trial.py` compiles it and samples the choices; `nasctl run config.yml` searches.
"""

from __future__ import annotations

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


def relu_net(hidden: int, alpha: float) -> MLPClassifier:
    return MLPClassifier((hidden,), activation="relu", alpha=alpha, max_iter=60, random_state=0)


def tanh_net(hidden: int, alpha: float) -> MLPClassifier:
    return MLPClassifier((hidden,), activation="tanh", alpha=alpha, max_iter=60, random_state=0)


def main() -> float:
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
    # @nas.variable(nas.choice(16, 32, 64), name=hidden)
    hidden = 32
    # @nas.variable(nas.loguniform(1e-5, 1e-2), name=alpha)
    alpha = 1e-4
    """@nas.function_choice(relu_net(hidden, alpha), tanh_net(hidden, alpha), name=relu_net)"""
    model = relu_net(hidden, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    accuracy = model.score(x_test, y_test)
    """@nas.report_final_result(accuracy)"""
    return accuracy


if __name__ == "__main__":
    print(f"accuracy {main():.4f}")
