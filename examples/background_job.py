"""Seed example: enable the base plugins and submit a job to the background executor."""

from scitrera_app_framework import get_extension, init_framework
from scitrera_app_framework.base_plugins import EXT_BACKGROUND_EXEC

init_framework('my-app', base_plugins=True)
get_extension(EXT_BACKGROUND_EXEC).submit_job(print, 'background task')
