print("relais-fault")
