print("fervid")
