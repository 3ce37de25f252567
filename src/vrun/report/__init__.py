"""What a run says to machines: CI systems (GitHub, GitLab), the JSON report, JUnit XML
(docs/architecture.md).
"""
