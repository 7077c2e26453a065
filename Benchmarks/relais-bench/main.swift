print("relais-bench")
