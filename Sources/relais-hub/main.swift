print("relais-hub")
