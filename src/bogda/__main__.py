from bogda.cli import main

main()
