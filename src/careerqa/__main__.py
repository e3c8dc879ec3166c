"""`python -m careerqa` is the `careerqa` command."""

from .cli import main

main()
