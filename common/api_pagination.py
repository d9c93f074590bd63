"""Pagination of every API list."""

from rest_framework.pagination import PageNumberPagination


class ApiPagination(PageNumberPagination):
    """`?page=N` and `?page_size=N` (at most 250: all tracked coins fit one page)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 250
