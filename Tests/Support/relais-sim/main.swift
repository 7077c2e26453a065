print("relais-sim")
