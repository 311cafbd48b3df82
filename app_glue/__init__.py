"""app_glue"""
