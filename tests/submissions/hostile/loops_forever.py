"""Never returns from backward."""


def backward(params, I, Y):
    while True:
        pass
