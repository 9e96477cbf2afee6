from crmbot.cli import main

main()
