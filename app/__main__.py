from app.fast import main

main()
