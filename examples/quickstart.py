"""Seed example: initialize the framework and log through the main and a child logger."""

from scitrera_app_framework import get_logger, init_framework

if __name__ == '__main__':
    v = init_framework('my-app', log_level='INFO')
    logger = get_logger(v)
    logger.info('Hello from SAF!')
    logger2 = get_logger(v, name='child')
    logger2.info('Hello from SAF child logger!')
