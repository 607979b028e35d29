import streamlit as st

st.title("explorer")
st.info("Coming soon.")
